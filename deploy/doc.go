// Package deploy holds the deployment files of the pipeline and the tests
// that keep them honest: the Kubernetes manifests (k8s/), the NATS Helm
// values (helm/), the container images (docker/), the local compose file
// (compose.yaml, compose/) and, one directory up, scripts/local-cluster.sh.
// README.md is the deployment guide.
//
// The tests decode every manifest strictly into the Kubernetes API types,
// load the containers' environment through the same configuration code the
// commands use, parse the NATS configurations with nats-server's own parser,
// and check the settings the guide relies on (three replicas, fsync on every
// write, non-root images, shutdown longer than the longest attempt). They
// need no cluster and no container engine.
//
// The package has no code outside its _test.go files.
package deploy
