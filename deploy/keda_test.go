package deploy

import (
	"strconv"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sixtyfour-oss/webhooks/pkg/streams"
)

// scaledObject is the part of KEDA's ScaledObject (keda.sh/v1alpha1) that
// the manifest uses, so that strict decoding refuses anything else (a
// misspelt field would otherwise be dropped by KEDA's API server only if it
// prunes, or ignored). KEDA's own API module is much larger than this check.
type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			Name string `json:"name"`
		} `json:"scaleTargetRef"`
		MinReplicaCount *int32 `json:"minReplicaCount,omitempty"`
		MaxReplicaCount *int32 `json:"maxReplicaCount,omitempty"`
		PollingInterval *int32 `json:"pollingInterval,omitempty"`
		CooldownPeriod  *int32 `json:"cooldownPeriod,omitempty"`
		Advanced        *struct {
			HorizontalPodAutoscalerConfig *struct {
				Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
			} `json:"horizontalPodAutoscalerConfig,omitempty"`
		} `json:"advanced,omitempty"`
		Triggers []struct {
			Type     string            `json:"type"`
			Metadata map[string]string `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

// natsJetStreamMetadata are the nats-jetstream trigger's metadata keys.
var natsJetStreamMetadata = map[string]bool{
	"natsServerMonitoringEndpoint": true, "account": true, "stream": true, "consumer": true,
	"lagThreshold": true, "activationLagThreshold": false, "useHttps": false,
}

func TestScaledObjectScalesDeliverersOnConsumerLag(t *testing.T) {
	m := loadManifests(t)
	so := m.scaled["webhooks-deliverer"]
	if so == nil {
		t.Fatal("no ScaledObject webhooks-deliverer")
	}
	if d := m.deployments[so.Spec.ScaleTargetRef.Name]; d == nil || d.Name != "webhooks-deliverer" {
		t.Errorf("scaleTargetRef = %q, want the deliverer Deployment", so.Spec.ScaleTargetRef.Name)
	}
	if min := so.Spec.MinReplicaCount; min == nil || *min < 1 {
		t.Error("minReplicaCount must be at least 1: parked retries need a deliverer")
	}
	if len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].Type != "nats-jetstream" {
		t.Fatalf("want one nats-jetstream trigger, got %+v", so.Spec.Triggers)
	}
	md := so.Spec.Triggers[0].Metadata
	for key := range md {
		if _, ok := natsJetStreamMetadata[key]; !ok {
			t.Errorf("trigger metadata %q is not a nats-jetstream parameter", key)
		}
	}
	for key, required := range natsJetStreamMetadata {
		if required && md[key] == "" {
			t.Errorf("trigger metadata %q is required", key)
		}
	}
	if md["stream"] != streams.DefaultDeliverStream || md["consumer"] != streams.DefaultConsumer {
		t.Errorf("stream %q, consumer %q; want %q and %q", md["stream"], md["consumer"], streams.DefaultDeliverStream, streams.DefaultConsumer)
	}
	if n, err := strconv.Atoi(md["lagThreshold"]); err != nil || n <= 0 {
		t.Errorf("lagThreshold = %q, want a positive integer", md["lagThreshold"])
	}
}
