package ingest

import (
	"encoding/json"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/sluicehq/sluice/lakelog"
)

// Beside each partition's txn version (the last offset written), the raw
// table records the Kafka topic ID (KIP-516) the offsets belong to, in a
// domainMetadata domain per partition, written by the first commit that
// covers the partition and again only when the ID changes. At plan time a
// partition whose recorded ID differs from the broker's topic ID belongs to
// a topic deleted and recreated since: its offsets are the old topic's even
// when they still fit the new partition, which offsets alone cannot tell
// (OffsetResetError).
//
// Per partition, like the txn versions, so that runs of different
// partitions (Config.Workers) never conflict on it, and a worker that
// records the new ID for its partitions leaves the others' old IDs in place
// for their own workers to detect.

// topicIDDomainPrefix prefixes a partition's domain, which is the prefix
// followed by "<topic>|<partition>" (the tail of schemas.IngestAppID).
const topicIDDomainPrefix = "sluice.ingest.topicId|"

func topicIDDomain(topic string, partition int32) string {
	return topicIDDomainPrefix + topic + "|" + strconv.Itoa(int(partition))
}

// topicIDConfig is a topic domain's configuration.
type topicIDConfig struct {
	TopicID string `json:"topicId"` // base64, as kadm.TopicID.String
}

// brokerTopicID is the topic's ID as the broker reports it, "" when the
// broker has none (Kafka before 2.8).
func brokerTopicID(d kadm.TopicDetail) string {
	if d.ID == (kadm.TopicID{}) {
		return ""
	}
	return d.ID.String()
}

// recordedTopicID is the topic ID the raw table recorded for the
// partition, "" when none.
func recordedTopicID(snap *lakelog.Snapshot, topic string, partition int32) string {
	if snap == nil {
		return ""
	}
	conf, ok := snap.Domain(topicIDDomain(topic, partition))
	if !ok {
		return ""
	}
	var c topicIDConfig
	if json.Unmarshal([]byte(conf), &c) != nil {
		return "" // not ours to judge: treated as unrecorded, and rewritten
	}
	return c.TopicID
}

// topicIDDomainFor is the domain action recording id for the partition.
func topicIDDomainFor(topic string, partition int32, id string) lakelog.DomainMetadata {
	conf, _ := json.Marshal(topicIDConfig{TopicID: id})
	return lakelog.DomainMetadata{Domain: topicIDDomain(topic, partition), Configuration: string(conf)}
}
