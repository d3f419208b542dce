package tests

// Regression tests for bugs the end-to-end suite found in other packages,
// each named after its bug.

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/capture"
)

// TestCapturePositionsTopicCreateFailsWhenTopicExists: found by
// TestFaultCaptureKafka* (a broker restart left CreateTopics failing).
// capture.NewProducer sends CreateTopics for the positions topic on every
// start and fails on any error but TOPIC_ALREADY_EXISTS, so capture cannot
// start, and RunWithRestarts retries forever, while the topic exists and
// everything else works: whenever the controller is unavailable
// (NOT_CONTROLLER, a controller election) or the principal may not create
// topics (CLUSTER_AUTHORIZATION_FAILED, common in production ACLs). Fixed
// (capture/producer.go ensurePositionsTopic): look the topic up first
// (metadata) and create it only when missing.
func TestCapturePositionsTopicCreateFailsWhenTopicExists(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const prefix = "regr"
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	compact := "compact"
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &compact}, prefix+".sluice.positions"); err != nil {
		t.Fatalf("create positions topic: %v", err)
	}
	// From now on CreateTopics is refused, as for a principal without
	// CREATE permission.
	c.ControlKey(int16(kmsg.CreateTopics), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.CreateTopicsRequest)
		resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
		resp.Version = r.Version
		for _, rt := range r.Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic, st.ErrorCode = rt.Topic, kerr.ClusterAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	p, err := capture.NewProducer(ctx, capture.Config{
		Kafka:      capture.KafkaConfig{Brokers: c.ListenAddrs()},
		SourceName: prefix, TopicPrefix: prefix, WithSchema: true,
	}, e2eLogger(t))
	if err != nil {
		t.Fatalf("NewProducer with an existing positions topic and CreateTopics refused: %v", err)
	}
	defer p.Close()
	if _, err := p.LastPosition(ctx); err != nil {
		t.Errorf("LastPosition: %v", err)
	}
}
