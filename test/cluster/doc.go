// Package cluster holds the failure tests of the pipeline on a three-node
// JetStream cluster, with every stream, the consumer and the secrets bucket
// at three replicas (streams.Config{Replicas: 3}) and fsync on every write
// (SyncAlways, nats-server's sync_interval: always), as in production:
//
//   - TestFailoverLosesNothing: three in-process servers; 10,000 events,
//     published while the run goes on, through three deliverers while the
//     stream leader and then the consumer leader are shut down and one
//     deliverer is cut off. Every event must end delivered or dead-lettered;
//     duplicate POSTs are counted and bounded.
//   - TestServerCrashLosesNothing: three nats-server processes built from
//     the module's own nats-server dependency; one is killed with SIGKILL in
//     the middle of a run and restarted on the same store. Nothing is lost.
//     It needs the go command on PATH to build nats-server (it skips with a
//     message otherwise); after go vet ./... (as CI runs it) the build takes
//     seconds, from an empty build cache several minutes.
//   - TestPublishThroughLeaderChange: pkg/publish keeps publishing while
//     the stream leader is shut down; retries reuse the event id, and the
//     stream ends holding exactly one message per acknowledged event.
//
// Every server listens on 127.0.0.1 only and keeps its store in
// t.TempDir(); the in-process servers log nothing, the processes log to a
// file there (shown when one fails to start or catch up), and the
// deliverers' and clients' error lines are summed up once per test. Tests
// wait on conditions with deadlines, never on sleeps.
//
// The package has no code outside its _test.go files.
package cluster
