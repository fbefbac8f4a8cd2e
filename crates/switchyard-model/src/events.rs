//! Argo Events kinds: `EventBus`, `EventSource`, `Sensor`, with Argo Events' (v1.9) exact wire
//! names, and the field policy that says which of Argo's fields Switchyard does not run.
//!
//! What Switchyard runs: the `nats`/`jetstream` buses as its embedded bus and `jetstreamExotic`
//! as an external NATS JetStream; `webhook` and `calendar` event sources; `argoWorkflow`, `k8s`,
//! `http` and `log` triggers. Every other source, trigger and bus kind is a known field typed
//! as opaque JSON whose policy is an error that names it, and every Kubernetes-only knob
//! (pod templates, services, replicas, container templates, volumes) is a warning that says
//! what happens instead. Struct names are prefixed where Argo's own name is generic
//! (`SensorTrigger`, `TriggerRetryBackoff`, `EventTlsConfig`) because field policy is keyed by
//! struct name across the whole crate.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::core::{ConfigMapKeySelector, SecretKeySelector};
use crate::meta::ObjectMeta;
use crate::policy::FieldPolicy;
use crate::value::IntOrString;

/// The bus an EventSource or Sensor uses when it names none.
pub const DEFAULT_EVENT_BUS_NAME: &str = "default";
/// Argo's default `maxPayloadSize` of a webhook: 1 MiB.
pub const DEFAULT_WEBHOOK_MAX_PAYLOAD_SIZE: i64 = 1_048_576;
/// Argo's default HTTP trigger timeout, in seconds.
pub const DEFAULT_HTTP_TRIGGER_TIMEOUT_SECONDS: i64 = 60;

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

/// Argo Events' `TLSConfig`: client TLS settings for a connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTlsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert_secret: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_secret: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_secret: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
    /// TLS without client certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// Argo Events' `SASLConfig` (Kafka).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSaslConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_secret: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<SecretKeySelector>,
}

// ---------------------------------------------------------------------------------------------
// EventBus
// ---------------------------------------------------------------------------------------------

/// `kind: EventBus`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventBus {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: EventBusSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

/// `EventBus.spec`: exactly one of the bus kinds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventBusSpec {
    /// NATS (Streaming) bus; `native` runs as Switchyard's embedded bus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nats: Option<NatsBus>,
    /// NATS JetStream bus run by Argo; runs as Switchyard's embedded bus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jetstream: Option<JetStreamBus>,
    /// Not supported (policy error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka: Option<KafkaBus>,
    /// An existing NATS JetStream server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jetstream_exotic: Option<JetStreamExoticConfig>,
}

impl EventBusSpec {
    /// The wire names of the bus kinds that are set, in declaration order; a valid spec has
    /// exactly one.
    pub fn bus_kinds(&self) -> Vec<&'static str> {
        let mut kinds = Vec::new();
        if self.nats.is_some() {
            kinds.push("nats");
        }
        if self.jetstream.is_some() {
            kinds.push("jetstream");
        }
        if self.kafka.is_some() {
            kinds.push("kafka");
        }
        if self.jetstream_exotic.is_some() {
            kinds.push("jetstreamExotic");
        }
        kinds
    }
}

/// Argo's `NATSBus`: `native` (a NATS Streaming server Argo runs) or `exotic` (one you run).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NatsBus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native: Option<NatsNativeStrategy>,
    /// Not supported (policy error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exotic: Option<NatsExoticConfig>,
}

/// Argo's `AuthStrategy` of a NATS bus.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NatsAuthStrategy {
    #[default]
    None,
    Token,
    Basic,
}

/// Argo's `NativeStrategy`: the NATS Streaming StatefulSet Argo would run. Switchyard runs its
/// embedded bus instead; the pod and cluster knobs have no effect (policy warnings).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NatsNativeStrategy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<NatsAuthStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_template: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_container_template: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Value>,
    /// Pod labels and annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<Value>,
    /// Maximum age of messages, a Go duration such as `72h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Value>,
    /// Maximum messages per channel (Argo's default 1000000; 0 = unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_msgs: Option<u64>,
    /// Maximum total bytes per channel, e.g. `1GB` (0 = unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_subs: Option<u64>,
    /// Maximum message payload, e.g. `1MB` (0 = unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_payload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raft_heartbeat_timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raft_election_timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raft_lease_timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raft_commit_timeout: Option<String>,
}

/// Argo's `NATSConfig` under `nats.exotic`: an existing NATS Streaming server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NatsExoticConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, rename = "clusterID", skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<NatsAuthStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_secret: Option<SecretKeySelector>,
}

/// Argo's `JetStreamBus`: the JetStream StatefulSet Argo would run. Switchyard runs its
/// embedded bus instead; the server and pod knobs have no effect (policy warnings).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JetStreamBus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Argo's default is 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_template: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reloader_container_template: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_container_template: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<Value>,
    /// Pod labels and annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<Value>,
    /// nats-server configuration text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_args: Option<Value>,
    /// YAML text: `maxBytes`, `maxMsgs`, `maxAge`, `replicas`, `duplicates`, `retention`, `discard`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_config: Option<String>,
    /// Maximum message payload, e.g. `1MB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_payload: Option<String>,
}

/// Argo's `JetStreamConfig` under `jetstreamExotic`: an existing NATS JetStream server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JetStreamExoticConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_secret: Option<SecretKeySelector>,
    /// YAML text, as for [`JetStreamBus::stream_config`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_config: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<EventTlsConfig>,
}

/// Argo's `KafkaBus`. Not supported: `EventBusSpec.kafka` is a policy error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KafkaBus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<EventTlsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sasl: Option<EventSaslConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_group: Option<KafkaBusConsumerGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitioner: Option<String>,
}

/// Argo's `KafkaConsumerGroup`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KafkaBusConsumerGroup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebalance_strategy: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// EventSource
// ---------------------------------------------------------------------------------------------

/// `kind: EventSource`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSource {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: EventSourceSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

impl EventSource {
    /// The webhooks, in event-name order.
    pub fn webhooks(&self) -> impl Iterator<Item = (&str, &WebhookEventSource)> {
        self.spec.webhook.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The calendars, in event-name order.
    pub fn calendars(&self) -> impl Iterator<Item = (&str, &CalendarEventSource)> {
        self.spec.calendar.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The bus this source publishes to (`default` when none is named).
    pub fn event_bus_name(&self) -> &str {
        self.spec.event_bus_name()
    }
}

/// `EventSource.spec`. Each source type is a map from event name to that source's settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSourceSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus_name: Option<String>,
    /// Kubernetes pod template (policy warning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Value>,
    /// Kubernetes Service (policy warning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<EventSourceService>,
    /// Deployment replicas (policy warning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub webhook: BTreeMap<String, WebhookEventSource>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub calendar: BTreeMap<String, CalendarEventSource>,
    // Source types Switchyard does not run yet: each is a policy error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minio: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amqp: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mqtt: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nats: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sns: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqs: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pub_sub: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitlab: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdfs: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_grid: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_events_hub: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripe: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emitter: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nsq: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pulsar: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generic: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitbucketserver: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitbucket: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_stream: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_service_bus: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_queue_storage: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sftp: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gerrit: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mns: Option<Value>,
}

impl EventSourceSpec {
    /// The bus this source publishes to (`default` when none is named).
    pub fn event_bus_name(&self) -> &str {
        non_empty_or(self.event_bus_name.as_deref(), DEFAULT_EVENT_BUS_NAME)
    }

    /// The source types Switchyard does not run, by wire name, with their values.
    pub fn unsupported_sources(&self) -> [(&'static str, Option<&Value>); 30] {
        [
            ("minio", self.minio.as_ref()),
            ("file", self.file.as_ref()),
            ("resource", self.resource.as_ref()),
            ("amqp", self.amqp.as_ref()),
            ("kafka", self.kafka.as_ref()),
            ("mqtt", self.mqtt.as_ref()),
            ("nats", self.nats.as_ref()),
            ("sns", self.sns.as_ref()),
            ("sqs", self.sqs.as_ref()),
            ("pubSub", self.pub_sub.as_ref()),
            ("github", self.github.as_ref()),
            ("gitlab", self.gitlab.as_ref()),
            ("hdfs", self.hdfs.as_ref()),
            ("slack", self.slack.as_ref()),
            ("storageGrid", self.storage_grid.as_ref()),
            ("azureEventsHub", self.azure_events_hub.as_ref()),
            ("stripe", self.stripe.as_ref()),
            ("emitter", self.emitter.as_ref()),
            ("redis", self.redis.as_ref()),
            ("nsq", self.nsq.as_ref()),
            ("pulsar", self.pulsar.as_ref()),
            ("generic", self.generic.as_ref()),
            ("bitbucketserver", self.bitbucketserver.as_ref()),
            ("bitbucket", self.bitbucket.as_ref()),
            ("redisStream", self.redis_stream.as_ref()),
            ("azureServiceBus", self.azure_service_bus.as_ref()),
            ("azureQueueStorage", self.azure_queue_storage.as_ref()),
            ("sftp", self.sftp.as_ref()),
            ("gerrit", self.gerrit.as_ref()),
            ("mns", self.mns.as_ref()),
        ]
    }

    /// Every event this source defines, as `(source type, event name)`: webhooks, then
    /// calendars, then the unsupported types in declaration order; names sorted within a type.
    pub fn events(&self) -> Vec<(&'static str, &str)> {
        let mut out: Vec<(&'static str, &str)> = Vec::new();
        out.extend(self.webhook.keys().map(|k| ("webhook", k.as_str())));
        out.extend(self.calendar.keys().map(|k| ("calendar", k.as_str())));
        for (kind, value) in self.unsupported_sources() {
            if let Some(Value::Object(map)) = value {
                let mut names: Vec<&str> = map.keys().map(String::as_str).collect();
                names.sort_unstable();
                out.extend(names.into_iter().map(|n| (kind, n)));
            }
        }
        out
    }

    /// True when some source type defines an event with this name.
    pub fn has_event(&self, name: &str) -> bool {
        self.events().iter().any(|(_, n)| *n == name)
    }
}

/// Argo's `Service` of an EventSource: the Kubernetes Service in front of its pod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSourceService {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Value>,
    #[serde(default, rename = "clusterIP", skip_serializing_if = "Option::is_none")]
    pub cluster_ip: Option<String>,
}

/// Argo's `EventSourceFilter`: an `expr` expression evaluated on the event before publishing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSourceFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
}

/// Argo's `WebhookEventSource`. In Go, `WebhookContext` is embedded inline, so its fields sit
/// directly here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEventSource {
    /// Path of the endpoint, e.g. `/environments`.
    pub endpoint: String,
    /// The HTTP method accepted, e.g. `POST`.
    pub method: String,
    /// Port to listen on, as a string (`"12000"`), exactly as Argo has it.
    pub port: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cert_secret: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_key_secret: Option<SecretKeySelector>,
    /// Passed along with every event.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// A bearer token the request must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_secret: Option<SecretKeySelector>,
    /// Largest accepted body in bytes (default 1 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_payload_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<EventSourceFilter>,
    /// Switchyard's addition (Argo drops the field): requests must be signed with an
    /// HMAC-SHA256 of their body, GitHub style.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac: Option<WebhookHmac>,
}

/// An HMAC-SHA256 signature check of a webhook's requests: the header holds `sha256=<hex>`
/// of the raw body keyed with the Secret's value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookHmac {
    /// The shared key.
    pub secret: SecretKeySelector,
    /// The header carrying the signature [default: `X-Hub-Signature-256`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
}

/// The signature header GitHub (and many senders after it) use.
pub const DEFAULT_HMAC_HEADER: &str = "X-Hub-Signature-256";

impl WebhookEventSource {
    /// The port as a number, with a message that says what is wrong.
    pub fn port_number(&self) -> Result<u16, String> {
        self.port
            .trim()
            .parse::<u16>()
            .map_err(|_| format!("port `{}` is not a TCP port number (1-65535)", self.port))
            .and_then(|p| {
                if p == 0 {
                    Err("port `0` is not a TCP port number (1-65535)".to_owned())
                } else {
                    Ok(p)
                }
            })
    }

    /// The payload limit in bytes, Argo's default 1 MiB when unset.
    pub fn max_payload_size(&self) -> i64 {
        self.max_payload_size
            .unwrap_or(DEFAULT_WEBHOOK_MAX_PAYLOAD_SIZE)
    }
}

/// Argo's `CalendarEventSource`: `schedule` (cron) takes precedence over `interval`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalendarEventSource {
    /// A cron expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// A Go duration such as `10s` or `1h30m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusion_dates: Vec<String>,
    /// IANA time zone of the schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Passed along with every event.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<EventPersistence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<EventSourceFilter>,
}

/// Argo's `EventPersistence` of a calendar: catch-up of missed schedules after a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPersistence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catchup: Option<CatchupConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapPersistence>,
}

impl EventPersistence {
    pub fn is_catchup_enabled(&self) -> bool {
        self.catchup
            .as_ref()
            .is_some_and(|c| c.enabled.unwrap_or(false))
    }
}

/// Argo's `CatchupConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatchupConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// A Go duration: how far back missed schedules are fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<String>,
}

/// Argo's `ConfigMapPersistence`: where Argo keeps the last fired time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapPersistence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_if_not_exist: Option<bool>,
}

// ---------------------------------------------------------------------------------------------
// Sensor
// ---------------------------------------------------------------------------------------------

/// `kind: Sensor`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sensor {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: SensorSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

impl Sensor {
    /// The dependency with this name.
    pub fn dependency(&self, name: &str) -> Option<&EventDependency> {
        self.spec.dependencies.iter().find(|d| d.name == name)
    }

    /// The trigger whose template has this name.
    pub fn trigger(&self, name: &str) -> Option<&SensorTrigger> {
        self.spec.triggers.iter().find(|t| t.template.name == name)
    }

    /// The bus this sensor subscribes to (`default` when none is named).
    pub fn event_bus_name(&self) -> &str {
        non_empty_or(self.spec.event_bus_name.as_deref(), DEFAULT_EVENT_BUS_NAME)
    }
}

/// `Sensor.spec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SensorSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<EventDependency>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<SensorTrigger>,
    /// Kubernetes pod template (policy warning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Value>,
    /// When true, a failed trigger round stops the sensor from processing more events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_on_failed_round: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus_name: Option<String>,
    /// Deployment replicas (policy warning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Deployment revision history (policy warning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i32>,
    /// Extra key-value pairs added to every log line of this sensor.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub logging_fields: BTreeMap<String, String>,
}

/// How several filters (or filter kinds) combine. Argo treats an empty value as `and`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilterLogicalOperator {
    #[default]
    #[serde(alias = "")]
    And,
    Or,
}

/// Argo's `EventDependency`: one event the sensor waits for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDependency {
    /// Unique within the sensor; conditions and parameters refer to it.
    pub name: String,
    pub event_source_name: String,
    pub event_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<EventDependencyFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<EventDependencyTransformer>,
    /// How the filter kinds (time, context, data, exprs, script) combine; default `and`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters_logical_operator: Option<FilterLogicalOperator>,
}

/// Argo's `EventDependencyTransformer`: rewrites the event before filters see it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDependencyTransformer {
    /// A jq program applied to the event data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jq: Option<String>,
    /// A Lua script applied to the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
}

/// Argo's `EventDependencyFilter`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDependencyFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<EventContextFilter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<DataFilter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exprs: Vec<ExprFilter>,
    /// How several `data` filters combine; default `and`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_logical_operator: Option<FilterLogicalOperator>,
    /// How several `exprs` filters combine; default `and`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr_logical_operator: Option<FilterLogicalOperator>,
    /// A Lua script that decides whether the event passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
}

/// Argo's `TimeFilter`: events pass only in `[start, stop)` of each day (`hh:mm:ss`); when
/// `stop` < `start` the window crosses midnight.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeFilter {
    pub start: String,
    pub stop: String,
    /// IANA time zone of the window; UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// Argo's `EventContext` as a filter: each non-empty field must equal the event's. Argo
/// compares only `type`, `subject`, `source` and `datacontenttype`; the other fields are
/// accepted and ignored (policy warnings).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventContextFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specversion: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacontenttype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}

/// Argo's `JSONType` of a data filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFilterType {
    Bool,
    Number,
    #[default]
    String,
}

/// Argo's `Comparator` of a data filter. Argo treats an empty value as `=`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataFilterComparator {
    #[serde(rename = ">=")]
    GreaterThanOrEqualTo,
    #[serde(rename = ">")]
    GreaterThan,
    #[default]
    #[serde(rename = "=", alias = "")]
    EqualTo,
    #[serde(rename = "!=")]
    NotEqualTo,
    #[serde(rename = "<")]
    LessThan,
    #[serde(rename = "<=")]
    LessThanOrEqualTo,
}

/// Argo's `DataFilter`: the value at `path` (gjson syntax) of the event data must match one of
/// `value` (strings are regular expressions, numbers compare with `comparator`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataFilter {
    pub path: String,
    #[serde(rename = "type")]
    pub type_: DataFilterType,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparator: Option<DataFilterComparator>,
    /// A Go template applied to the value before matching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

impl DataFilter {
    pub fn comparator(&self) -> DataFilterComparator {
        self.comparator.unwrap_or_default()
    }
}

/// Argo's `ExprFilter`: an `expr` expression over named values taken from the event data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExprFilter {
    pub expr: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<PayloadField>,
}

/// Argo's `PayloadField`: binds the value at `path` (gjson syntax) to `name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadField {
    pub path: String,
    pub name: String,
}

/// Argo's `Trigger`: what a sensor does when its conditions are met.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SensorTrigger {
    pub template: TriggerTemplate,
    /// Applied to the template itself before it runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<TriggerParameter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<TriggerPolicy>,
    /// No retry when absent (one attempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_strategy: Option<TriggerRetryBackoff>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<TriggerRateLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least_once: Option<bool>,
    /// Run when this trigger's attempts are exhausted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dlq_trigger: Option<Box<SensorTrigger>>,
}

impl SensorTrigger {
    /// How many times the trigger is attempted: 1 without a `retryStrategy`, as in Argo.
    pub fn attempts(&self) -> u32 {
        self.retry_strategy
            .as_ref()
            .map_or(1, TriggerRetryBackoff::attempts)
    }
}

/// Argo's `TriggerTemplate`: a name, the conditions, and exactly one trigger type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerTemplate {
    pub name: String,
    /// A boolean expression over dependency names, e.g. `(dep01 || dep02) && dep04`;
    /// all dependencies when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions_reset: Vec<ConditionsResetCriteria>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k8s: Option<StandardK8sTrigger>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argo_workflow: Option<ArgoWorkflowTrigger>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpTrigger>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<LogTrigger>,
    // Trigger types Switchyard does not run yet: each is a policy error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_lambda: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nats: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_whisk: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_event_hubs: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pulsar: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_service_bus: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Value>,
}

impl TriggerTemplate {
    /// The wire names of the trigger types that are set; a valid template has exactly one.
    pub fn trigger_types(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.k8s.is_some() {
            out.push("k8s");
        }
        if self.argo_workflow.is_some() {
            out.push("argoWorkflow");
        }
        if self.http.is_some() {
            out.push("http");
        }
        if self.log.is_some() {
            out.push("log");
        }
        out.extend(
            self.unsupported_triggers()
                .into_iter()
                .filter(|(_, v)| v.is_some())
                .map(|(name, _)| name),
        );
        out
    }

    /// The trigger types Switchyard does not run, by wire name, with their values.
    pub fn unsupported_triggers(&self) -> [(&'static str, Option<&Value>); 10] {
        [
            ("awsLambda", self.aws_lambda.as_ref()),
            ("custom", self.custom.as_ref()),
            ("kafka", self.kafka.as_ref()),
            ("nats", self.nats.as_ref()),
            ("slack", self.slack.as_ref()),
            ("openWhisk", self.open_whisk.as_ref()),
            ("azureEventHubs", self.azure_event_hubs.as_ref()),
            ("pulsar", self.pulsar.as_ref()),
            ("azureServiceBus", self.azure_service_bus.as_ref()),
            ("email", self.email.as_ref()),
        ]
    }
}

/// Argo's `ConditionsResetCriteria`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionsResetCriteria {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_time: Option<ConditionsResetByTime>,
}

/// Argo's `ConditionsResetByTime`: forget partially met conditions on a cron schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionsResetByTime {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// Argo's `ArgoWorkflowOperation`. Argo treats an empty value as `submit`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArgoWorkflowOperation {
    #[default]
    #[serde(alias = "")]
    Submit,
    SubmitFrom,
    Suspend,
    Resubmit,
    Retry,
    Resume,
    Terminate,
    Stop,
}

/// Argo's `ArgoWorkflowTrigger`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgoWorkflowTrigger {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TriggerArtifactLocation>,
    /// `submit` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<ArgoWorkflowOperation>,
    /// Applied to the resource from `source`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<TriggerParameter>,
    /// Arguments for the `argo` CLI (policy error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
}

impl ArgoWorkflowTrigger {
    pub fn operation(&self) -> ArgoWorkflowOperation {
        self.operation.unwrap_or_default()
    }
}

/// Argo's `KubernetesResourceOperation`. Argo treats an empty value as `create`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum K8sTriggerOperation {
    #[default]
    #[serde(alias = "")]
    Create,
    Update,
    Patch,
    Delete,
}

/// Argo's `StandardK8STrigger`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StandardK8sTrigger {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TriggerArtifactLocation>,
    /// `create` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<K8sTriggerOperation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<TriggerParameter>,
    /// The patch content type for `operation: patch`; Argo's default is
    /// `application/merge-patch+json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_strategy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_object: Option<bool>,
}

impl StandardK8sTrigger {
    pub fn operation(&self) -> K8sTriggerOperation {
        self.operation.unwrap_or_default()
    }
}

/// Argo's `ArtifactLocation` for a trigger's `source`. Switchyard reads only `resource`, the
/// object written inline; the other locations are policy errors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerArtifactLocation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<Value>,
    /// The object as YAML or JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configmap: Option<ConfigMapKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<Value>,
    /// The object itself, e.g. a whole `Workflow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Value>,
}

impl TriggerArtifactLocation {
    /// The wire names of the locations that are set; a valid source has exactly one.
    pub fn locations(&self) -> Vec<&'static str> {
        [
            ("s3", self.s3.is_some()),
            ("inline", self.inline.is_some()),
            ("file", self.file.is_some()),
            ("url", self.url.is_some()),
            ("configmap", self.configmap.is_some()),
            ("git", self.git.is_some()),
            ("resource", self.resource.is_some()),
        ]
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(name, _)| name)
        .collect()
    }
}

/// Argo's `HTTPTrigger`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpTrigger {
    pub url: String,
    /// Builds the JSON request body: each `dest` is a key of the body.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub payload: Vec<TriggerParameter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<EventTlsConfig>,
    /// `POST` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Applied to this trigger definition (e.g. `dest: url`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<TriggerParameter>,
    /// Seconds; 60 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<TriggerBasicAuth>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secure_headers: Vec<SecureHeader>,
    /// Headers whose values come from the event; `dest` is the header name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dynamic_headers: Vec<TriggerParameter>,
    /// The `Host` header (virtual hosting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl HttpTrigger {
    pub fn method(&self) -> &str {
        non_empty_or(self.method.as_deref(), "POST")
    }

    /// The request timeout; Argo's 60 s when unset or not positive.
    pub fn timeout(&self) -> Duration {
        let seconds = self
            .timeout
            .filter(|t| *t > 0)
            .unwrap_or(DEFAULT_HTTP_TRIGGER_TIMEOUT_SECONDS);
        Duration::from_secs(seconds.unsigned_abs())
    }
}

/// Argo Events' `BasicAuth`: username and password from Secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerBasicAuth {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretKeySelector>,
}

/// Argo's `SecureHeader`: a header whose value comes from a Secret or ConfigMap.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecureHeader {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<SecureHeaderValueSource>,
}

/// Argo's `ValueFromSource`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecureHeaderValueSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<ConfigMapKeySelector>,
}

/// Argo's `LogTrigger`: logs the events that fired the trigger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogTrigger {
    /// Log at most once per this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<u64>,
}

impl LogTrigger {
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_seconds.unwrap_or(0))
    }
}

/// Argo's `TriggerParameterOperation`: what to do with the value already at `dest`. Argo
/// treats an empty value as `overwrite`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TriggerParameterOperation {
    Append,
    #[default]
    #[serde(alias = "")]
    Overwrite,
    Prepend,
}

/// Argo's `TriggerParameter`: copies a value from an event into the trigger at `dest`
/// (sjson path syntax, e.g. `spec.arguments.parameters.0.value`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerParameter {
    pub src: TriggerParameterSource,
    pub dest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<TriggerParameterOperation>,
}

impl TriggerParameter {
    pub fn operation(&self) -> TriggerParameterOperation {
        self.operation.unwrap_or_default()
    }
}

/// Argo's `TriggerParameterSource`. With both a template and a key, the template is tried
/// first; `value` is the fallback when the key does not resolve.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerParameterSource {
    pub dependency_name: String,
    /// gjson path into the event context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_template: Option<String>,
    /// gjson path into the event data, e.g. `body.region`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_template: Option<String>,
    /// The default when the key does not resolve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Keep the JSON type of the value (number, bool, object) instead of a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_raw_data: Option<bool>,
}

/// Argo's `TriggerPolicy`: how to decide whether a trigger succeeded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k8s: Option<K8sResourcePolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusPolicy>,
}

/// Argo's `K8SResourcePolicy`: wait (with backoff) until the created resource has `labels`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct K8sResourcePolicy {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<TriggerRetryBackoff>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_on_backoff_timeout: Option<bool>,
}

/// Argo's `StatusPolicy`: the HTTP statuses that count as success.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusPolicy {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<i32>,
}

/// Argo Events' `Backoff` (a trigger's `retryStrategy`, a K8s policy's `backoff`).
///
/// `steps` is the total number of attempts; `duration` is nanoseconds when an integer and a Go
/// duration (`"1s"`, `"3m"`) when a string; each wait is multiplied by `factor` and stretched
/// by up to `jitter` times itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerRetryBackoff {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<i32>,
}

impl TriggerRetryBackoff {
    /// Argo's defaults for a backoff that leaves a field out.
    pub const DEFAULT_STEPS: u32 = 5;
    pub const DEFAULT_DURATION: Duration = Duration::from_secs(1);
    pub const DEFAULT_FACTOR: f64 = 1.0;
    pub const DEFAULT_JITTER: f64 = 1.0;

    /// Total attempts: `steps` when positive, else Argo's default 5.
    pub fn attempts(&self) -> u32 {
        match self.steps {
            Some(s) if s > 0 => s.unsigned_abs(),
            _ => Self::DEFAULT_STEPS,
        }
    }

    /// The first wait: integer nanoseconds or a Go duration string; 1 s when absent.
    pub fn initial_duration(&self) -> Result<Duration, String> {
        match &self.duration {
            None => Ok(Self::DEFAULT_DURATION),
            Some(IntOrString::Int(n)) => u64::try_from(*n)
                .map(Duration::from_nanos)
                .map_err(|_| format!("duration {n} is negative")),
            Some(IntOrString::String(s)) => parse_go_duration(s),
        }
    }

    pub fn factor(&self) -> f64 {
        self.factor
            .as_ref()
            .and_then(serde_json::Number::as_f64)
            .unwrap_or(Self::DEFAULT_FACTOR)
    }

    pub fn jitter(&self) -> f64 {
        self.jitter
            .as_ref()
            .and_then(serde_json::Number::as_f64)
            .unwrap_or(Self::DEFAULT_JITTER)
    }
}

/// Argo's `RateLimiteUnit`. Argo treats an empty value as `Second`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TriggerRateLimitUnit {
    #[default]
    #[serde(alias = "")]
    Second,
    Minute,
    Hour,
}

impl TriggerRateLimitUnit {
    pub fn duration(self) -> Duration {
        match self {
            TriggerRateLimitUnit::Second => Duration::from_secs(1),
            TriggerRateLimitUnit::Minute => Duration::from_secs(60),
            TriggerRateLimitUnit::Hour => Duration::from_secs(3600),
        }
    }
}

/// Argo's `RateLimit` of a trigger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerRateLimit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<TriggerRateLimitUnit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_unit: Option<i32>,
}

impl TriggerRateLimit {
    pub fn unit(&self) -> TriggerRateLimitUnit {
        self.unit.unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn non_empty_or<'a>(value: Option<&'a str>, default: &'a str) -> &'a str {
    match value {
        Some(v) if !v.is_empty() => v,
        _ => default,
    }
}

/// Parses a Go duration (`time.ParseDuration`): a sequence of decimal numbers, each with an
/// optional fraction and a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), e.g. `1h30m`, `1.5s`;
/// `0` alone needs no unit. Negative durations are refused.
pub fn parse_go_duration(input: &str) -> Result<Duration, String> {
    let err = |why: &str| format!("invalid duration `{input}`: {why}");
    let mut rest = input.strip_prefix('+').unwrap_or(input);
    if rest.starts_with('-') {
        return Err(err("negative durations are not allowed"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(err("expected a number and a unit such as `10s`"));
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_digits, after_int) = rest.split_at(int_len);
        let (frac_digits, after_number) = match after_int.strip_prefix('.') {
            Some(after_dot) => {
                let n = after_dot.bytes().take_while(u8::is_ascii_digit).count();
                after_dot.split_at(n)
            }
            None => ("", after_int),
        };
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(err("expected a number"));
        }
        let unit_len = after_number
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after_number.len());
        let (unit, after_unit) = after_number.split_at(unit_len);
        let nanos_per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(err("missing unit (use ns, us, ms, s, m or h)")),
            other => {
                return Err(err(&format!(
                    "unknown unit `{other}` (use ns, us, ms, s, m or h)"
                )));
            }
        };
        let too_long = || err("longer than the maximum (about 292 years)");
        let whole: u128 = if int_digits.is_empty() {
            0
        } else {
            int_digits.parse().map_err(|_| too_long())?
        };
        let mut part = whole.checked_mul(nanos_per_unit).ok_or_else(too_long)?;
        if !frac_digits.is_empty() {
            // Digits beyond nanosecond precision of the largest unit cannot matter.
            let digits = &frac_digits[..frac_digits.len().min(18)];
            let fraction: u128 = digits.parse().map_err(|_| too_long())?;
            let scale = 10u128.pow(u32::try_from(digits.len()).unwrap_or(18));
            part += fraction * nanos_per_unit / scale;
        }
        total = total.checked_add(part).ok_or_else(too_long)?;
        if total > i64::MAX as u128 {
            return Err(too_long());
        }
        rest = after_unit;
    }
    u64::try_from(total)
        .map(Duration::from_nanos)
        .map_err(|_| err("longer than the maximum (about 292 years)"))
}

// ---------------------------------------------------------------------------------------------
// Field policy
// ---------------------------------------------------------------------------------------------

const BUS_POD: &str = "configures the Kubernetes pods of a NATS server; Switchyard runs this bus \
    embedded in its own process, so it has no effect";
const BUS_REPLICAS: &str = "has no effect: Switchyard runs this bus embedded in its own process, \
    with its log on local disk";
const BUS_PERSISTENCE: &str = "has no effect: the embedded bus always keeps its log on local \
    disk in Switchyard's data directory";
const NATS_RAFT: &str = "tunes the Raft cluster of NATS Streaming servers; the embedded bus has \
    none, so it has no effect";
const JETSTREAM_SERVER: &str = "configures the nats-server Argo would run; Switchyard runs this \
    bus embedded in its own process, so it has no effect";
const SOURCE_POD: &str = "is a Kubernetes pod template; Switchyard runs event sources inside its \
    own process, so it has no effect";
const SENSOR_POD: &str = "is a Kubernetes pod template; Switchyard runs sensors inside its own \
    process, so it has no effect";
const CONTEXT_IGNORED: &str = "is not compared by the context filter (Argo Events compares only \
    type, subject, source and datacontenttype), so it has no effect";
const STATUS: &str = "is written by the server; the value in the manifest is ignored";
const SOURCE_INLINE: &str = "is not supported yet; put the object itself under `source.resource`";

macro_rules! unsupported_source {
    ($field:literal, $label:literal) => {
        (
            "EventSourceSpec",
            $field,
            FieldPolicy::error(concat!(
                "is the ",
                $label,
                " event source, which is not supported yet; Switchyard runs webhook and calendar sources"
            )),
        )
    };
}

macro_rules! unsupported_trigger {
    ($field:literal, $label:literal) => {
        (
            "TriggerTemplate",
            $field,
            FieldPolicy::error(concat!(
                "is the ",
                $label,
                " trigger, which is not supported yet; Switchyard runs argoWorkflow, k8s, http and log triggers"
            )),
        )
    };
}

macro_rules! unsupported_location {
    ($field:literal, $label:literal) => {
        (
            "TriggerArtifactLocation",
            $field,
            FieldPolicy::error(concat!(
                "reads the trigger's object from ",
                $label,
                ", which is not supported yet; put the object itself under `source.resource`"
            )),
        )
    };
}

/// `(struct, wire field, policy)`. Kept as data so a test can check that every entry names a
/// real field.
const POLICIES: &[(&str, &str, FieldPolicy)] = &[
    ("EventBus", "status", FieldPolicy::warning(STATUS)),
    ("EventSource", "status", FieldPolicy::warning(STATUS)),
    ("Sensor", "status", FieldPolicy::warning(STATUS)),
    // EventBus
    (
        "EventBusSpec",
        "kafka",
        FieldPolicy::error(
            "is the Kafka EventBus, which is not supported; use nats, jetstream or jetstreamExotic",
        ),
    ),
    (
        "NatsBus",
        "exotic",
        FieldPolicy::error(
            "connects to a NATS Streaming server, which Switchyard does not support; use \
             jetstreamExotic to connect to a NATS JetStream server, or nats.native for the \
             embedded bus",
        ),
    ),
    (
        "NatsNativeStrategy",
        "replicas",
        FieldPolicy::warning(BUS_REPLICAS),
    ),
    (
        "NatsNativeStrategy",
        "auth",
        FieldPolicy::warning(
            "has no effect: the embedded bus runs inside the Switchyard process and has no \
             network clients to authenticate",
        ),
    ),
    (
        "NatsNativeStrategy",
        "persistence",
        FieldPolicy::warning(BUS_PERSISTENCE),
    ),
    (
        "NatsNativeStrategy",
        "containerTemplate",
        FieldPolicy::warning(BUS_POD),
    ),
    (
        "NatsNativeStrategy",
        "metricsContainerTemplate",
        FieldPolicy::warning(BUS_POD),
    ),
    (
        "NatsNativeStrategy",
        "nodeSelector",
        FieldPolicy::warning(BUS_POD),
    ),
    (
        "NatsNativeStrategy",
        "tolerations",
        FieldPolicy::warning(BUS_POD),
    ),
    (
        "NatsNativeStrategy",
        "metadata",
        FieldPolicy::warning(BUS_POD),
    ),
    (
        "NatsNativeStrategy",
        "securityContext",
        FieldPolicy::warning(BUS_POD),
    ),
    (
        "NatsNativeStrategy",
        "imagePullSecrets",
        FieldPolicy::warning(BUS_POD),
    ),
    (
        "NatsNativeStrategy",
        "serviceAccountName",
        FieldPolicy::warning(BUS_POD),
    ),
    (
        "NatsNativeStrategy",
        "priorityClassName",
        FieldPolicy::warning(BUS_POD),
    ),
    (
        "NatsNativeStrategy",
        "priority",
        FieldPolicy::warning(BUS_POD),
    ),
    (
        "NatsNativeStrategy",
        "affinity",
        FieldPolicy::warning(BUS_POD),
    ),
    (
        "NatsNativeStrategy",
        "maxSubs",
        FieldPolicy::warning(
            "is a NATS Streaming subscription limit with no counterpart in the embedded bus, so \
             it has no effect",
        ),
    ),
    (
        "NatsNativeStrategy",
        "raftHeartbeatTimeout",
        FieldPolicy::warning(NATS_RAFT),
    ),
    (
        "NatsNativeStrategy",
        "raftElectionTimeout",
        FieldPolicy::warning(NATS_RAFT),
    ),
    (
        "NatsNativeStrategy",
        "raftLeaseTimeout",
        FieldPolicy::warning(NATS_RAFT),
    ),
    (
        "NatsNativeStrategy",
        "raftCommitTimeout",
        FieldPolicy::warning(NATS_RAFT),
    ),
    (
        "JetStreamBus",
        "version",
        FieldPolicy::warning(JETSTREAM_SERVER),
    ),
    (
        "JetStreamBus",
        "replicas",
        FieldPolicy::warning(BUS_REPLICAS),
    ),
    (
        "JetStreamBus",
        "settings",
        FieldPolicy::warning(JETSTREAM_SERVER),
    ),
    (
        "JetStreamBus",
        "startArgs",
        FieldPolicy::warning(JETSTREAM_SERVER),
    ),
    (
        "JetStreamBus",
        "persistence",
        FieldPolicy::warning(BUS_PERSISTENCE),
    ),
    (
        "JetStreamBus",
        "containerTemplate",
        FieldPolicy::warning(BUS_POD),
    ),
    (
        "JetStreamBus",
        "reloaderContainerTemplate",
        FieldPolicy::warning(BUS_POD),
    ),
    (
        "JetStreamBus",
        "metricsContainerTemplate",
        FieldPolicy::warning(BUS_POD),
    ),
    ("JetStreamBus", "metadata", FieldPolicy::warning(BUS_POD)),
    (
        "JetStreamBus",
        "nodeSelector",
        FieldPolicy::warning(BUS_POD),
    ),
    ("JetStreamBus", "tolerations", FieldPolicy::warning(BUS_POD)),
    (
        "JetStreamBus",
        "securityContext",
        FieldPolicy::warning(BUS_POD),
    ),
    (
        "JetStreamBus",
        "imagePullSecrets",
        FieldPolicy::warning(BUS_POD),
    ),
    (
        "JetStreamBus",
        "priorityClassName",
        FieldPolicy::warning(BUS_POD),
    ),
    ("JetStreamBus", "priority", FieldPolicy::warning(BUS_POD)),
    ("JetStreamBus", "affinity", FieldPolicy::warning(BUS_POD)),
    (
        "JetStreamBus",
        "serviceAccountName",
        FieldPolicy::warning(BUS_POD),
    ),
    // EventSource
    (
        "EventSourceSpec",
        "template",
        FieldPolicy::warning(SOURCE_POD),
    ),
    (
        "EventSourceSpec",
        "service",
        FieldPolicy::warning(
            "creates a Kubernetes Service; Switchyard serves each webhook on its own `port` \
             directly, so it has no effect",
        ),
    ),
    (
        "EventSourceSpec",
        "replicas",
        FieldPolicy::warning(
            "has no effect: Switchyard runs each event source once, inside its own process",
        ),
    ),
    unsupported_source!("minio", "Minio"),
    unsupported_source!("file", "file"),
    unsupported_source!("resource", "Kubernetes resource"),
    unsupported_source!("amqp", "AMQP"),
    unsupported_source!("kafka", "Kafka"),
    unsupported_source!("mqtt", "MQTT"),
    unsupported_source!("nats", "NATS"),
    unsupported_source!("sns", "AWS SNS"),
    unsupported_source!("sqs", "AWS SQS"),
    unsupported_source!("pubSub", "GCP Pub/Sub"),
    unsupported_source!("github", "GitHub"),
    unsupported_source!("gitlab", "GitLab"),
    unsupported_source!("hdfs", "HDFS"),
    unsupported_source!("slack", "Slack"),
    unsupported_source!("storageGrid", "StorageGRID"),
    unsupported_source!("azureEventsHub", "Azure Events Hub"),
    unsupported_source!("stripe", "Stripe"),
    unsupported_source!("emitter", "Emitter"),
    unsupported_source!("redis", "Redis"),
    unsupported_source!("nsq", "NSQ"),
    unsupported_source!("pulsar", "Pulsar"),
    unsupported_source!("generic", "generic (gRPC)"),
    unsupported_source!("bitbucketserver", "Bitbucket Server"),
    unsupported_source!("bitbucket", "Bitbucket"),
    unsupported_source!("redisStream", "Redis Streams"),
    unsupported_source!("azureServiceBus", "Azure Service Bus"),
    unsupported_source!("azureQueueStorage", "Azure Queue Storage"),
    unsupported_source!("sftp", "SFTP"),
    unsupported_source!("gerrit", "Gerrit"),
    unsupported_source!("mns", "Alibaba Cloud MNS"),
    // Sensor
    ("SensorSpec", "template", FieldPolicy::warning(SENSOR_POD)),
    (
        "SensorSpec",
        "replicas",
        FieldPolicy::warning(
            "has no effect: Switchyard runs each sensor once, inside its own process",
        ),
    ),
    (
        "SensorSpec",
        "revisionHistoryLimit",
        FieldPolicy::warning(
            "limits the revisions of a Kubernetes Deployment; Switchyard runs none, so it has no \
             effect",
        ),
    ),
    (
        "EventContextFilter",
        "id",
        FieldPolicy::warning(CONTEXT_IGNORED),
    ),
    (
        "EventContextFilter",
        "specversion",
        FieldPolicy::warning(CONTEXT_IGNORED),
    ),
    (
        "EventContextFilter",
        "time",
        FieldPolicy::warning(CONTEXT_IGNORED),
    ),
    unsupported_trigger!("awsLambda", "AWS Lambda"),
    unsupported_trigger!("custom", "custom (gRPC)"),
    unsupported_trigger!("kafka", "Kafka"),
    unsupported_trigger!("nats", "NATS"),
    unsupported_trigger!("slack", "Slack"),
    unsupported_trigger!("openWhisk", "OpenWhisk"),
    unsupported_trigger!("azureEventHubs", "Azure Event Hubs"),
    unsupported_trigger!("pulsar", "Pulsar"),
    unsupported_trigger!("azureServiceBus", "Azure Service Bus"),
    unsupported_trigger!("email", "email"),
    (
        "ArgoWorkflowTrigger",
        "args",
        FieldPolicy::error(
            "(arguments for the `argo` command-line tool) is not supported: Switchyard does not \
             use that tool; set the equivalent fields in `source.resource` or use `parameters`",
        ),
    ),
    unsupported_location!("s3", "an S3 bucket"),
    unsupported_location!("file", "a file in the sensor's filesystem"),
    unsupported_location!("url", "a URL"),
    unsupported_location!("git", "a Git repository"),
    (
        "TriggerArtifactLocation",
        "inline",
        FieldPolicy::error(SOURCE_INLINE),
    ),
    (
        "TriggerArtifactLocation",
        "configmap",
        FieldPolicy::error(SOURCE_INLINE),
    ),
];

pub(crate) fn policy(type_name: &str, field: &str) -> Option<FieldPolicy> {
    POLICIES
        .iter()
        .find(|(t, f, _)| *t == type_name && *f == field)
        .map(|(_, _, p)| *p)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde::de::{DeserializeOwned, Visitor};

    // --- struct introspection: the fields serde knows for each struct -------------------------

    type Probed = Option<(&'static str, &'static [&'static str])>;

    /// A deserializer that records the name and fields a struct asks for, then stops.
    struct Probe<'a>(&'a mut Probed);

    impl<'de> serde::Deserializer<'de> for Probe<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = Some((name, fields));
            Err(serde::de::Error::custom("probed"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    fn fields_of<T: DeserializeOwned>() -> (&'static str, &'static [&'static str]) {
        let mut out = None;
        let _ = T::deserialize(Probe(&mut out));
        out.unwrap()
    }

    fn all_structs() -> Vec<(&'static str, &'static [&'static str])> {
        vec![
            fields_of::<EventTlsConfig>(),
            fields_of::<EventSaslConfig>(),
            fields_of::<EventBus>(),
            fields_of::<EventBusSpec>(),
            fields_of::<NatsBus>(),
            fields_of::<NatsNativeStrategy>(),
            fields_of::<NatsExoticConfig>(),
            fields_of::<JetStreamBus>(),
            fields_of::<JetStreamExoticConfig>(),
            fields_of::<KafkaBus>(),
            fields_of::<KafkaBusConsumerGroup>(),
            fields_of::<EventSource>(),
            fields_of::<EventSourceSpec>(),
            fields_of::<EventSourceService>(),
            fields_of::<EventSourceFilter>(),
            fields_of::<WebhookEventSource>(),
            fields_of::<CalendarEventSource>(),
            fields_of::<EventPersistence>(),
            fields_of::<CatchupConfiguration>(),
            fields_of::<ConfigMapPersistence>(),
            fields_of::<Sensor>(),
            fields_of::<SensorSpec>(),
            fields_of::<EventDependency>(),
            fields_of::<EventDependencyTransformer>(),
            fields_of::<EventDependencyFilter>(),
            fields_of::<TimeFilter>(),
            fields_of::<EventContextFilter>(),
            fields_of::<DataFilter>(),
            fields_of::<ExprFilter>(),
            fields_of::<PayloadField>(),
            fields_of::<SensorTrigger>(),
            fields_of::<TriggerTemplate>(),
            fields_of::<ConditionsResetCriteria>(),
            fields_of::<ConditionsResetByTime>(),
            fields_of::<ArgoWorkflowTrigger>(),
            fields_of::<StandardK8sTrigger>(),
            fields_of::<TriggerArtifactLocation>(),
            fields_of::<HttpTrigger>(),
            fields_of::<TriggerBasicAuth>(),
            fields_of::<SecureHeader>(),
            fields_of::<SecureHeaderValueSource>(),
            fields_of::<LogTrigger>(),
            fields_of::<TriggerParameter>(),
            fields_of::<TriggerParameterSource>(),
            fields_of::<TriggerPolicy>(),
            fields_of::<K8sResourcePolicy>(),
            fields_of::<StatusPolicy>(),
            fields_of::<TriggerRetryBackoff>(),
            fields_of::<TriggerRateLimit>(),
        ]
    }

    fn sorted<'a>(fields: &[&'a str]) -> Vec<&'a str> {
        let mut v = fields.to_vec();
        v.sort_unstable();
        v
    }

    #[test]
    fn struct_names_are_unique() {
        let structs = all_structs();
        let mut names: Vec<&str> = structs.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "duplicate serde struct names");
    }

    #[test]
    fn every_policy_names_a_real_field() {
        let structs = all_structs();
        for (type_name, field, _) in POLICIES {
            let Some((_, fields)) = structs.iter().find(|(n, _)| n == type_name) else {
                panic!("policy for unknown struct `{type_name}`");
            };
            assert!(
                fields.contains(field),
                "policy for `{type_name}.{field}`, which is not a field"
            );
        }
        let mut keys: Vec<(&str, &str)> = POLICIES.iter().map(|(t, f, _)| (*t, *f)).collect();
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), before, "a (struct, field) has two policies");
    }

    /// The wire names of the central structs, as Argo Events v1.9 spells them in its Go tags.
    #[test]
    fn wire_names_match_argo() {
        let cases: &[(&str, &str)] = &[
            ("EventBusSpec", "nats jetstream kafka jetstreamExotic"),
            (
                "NatsNativeStrategy",
                "replicas auth persistence containerTemplate metricsContainerTemplate nodeSelector tolerations metadata securityContext maxAge imagePullSecrets serviceAccountName priorityClassName priority affinity maxMsgs maxBytes maxSubs maxPayload raftHeartbeatTimeout raftElectionTimeout raftLeaseTimeout raftCommitTimeout",
            ),
            ("NatsExoticConfig", "url clusterID auth accessSecret"),
            (
                "JetStreamBus",
                "version replicas containerTemplate reloaderContainerTemplate metricsContainerTemplate persistence metadata nodeSelector tolerations securityContext imagePullSecrets priorityClassName priority affinity serviceAccountName settings startArgs streamConfig maxPayload",
            ),
            ("JetStreamExoticConfig", "url accessSecret streamConfig tls"),
            (
                "KafkaBus",
                "url topic version tls sasl consumerGroup partitioner",
            ),
            (
                "EventSourceSpec",
                "eventBusName template service minio calendar file resource webhook amqp kafka mqtt nats sns sqs pubSub github gitlab hdfs slack storageGrid azureEventsHub stripe emitter redis nsq pulsar generic replicas bitbucketserver bitbucket redisStream azureServiceBus azureQueueStorage sftp gerrit mns",
            ),
            ("EventSourceService", "metadata ports clusterIP"),
            (
                "WebhookEventSource",
                // `hmac` is ours (signed webhooks); Argo drops the unknown field.
                "endpoint method port url serverCertSecret serverKeySecret metadata authSecret maxPayloadSize filter hmac",
            ),
            (
                "CalendarEventSource",
                "schedule interval exclusionDates timezone metadata persistence filter",
            ),
            (
                "SensorSpec",
                "dependencies triggers template errorOnFailedRound eventBusName replicas revisionHistoryLimit loggingFields",
            ),
            (
                "EventDependency",
                "name eventSourceName eventName filters transform filtersLogicalOperator",
            ),
            (
                "EventDependencyFilter",
                "time context data exprs dataLogicalOperator exprLogicalOperator script",
            ),
            (
                "EventContextFilter",
                "id source specversion type datacontenttype subject time",
            ),
            ("DataFilter", "path type value comparator template"),
            (
                "SensorTrigger",
                "template parameters policy retryStrategy rateLimit atLeastOnce dlqTrigger",
            ),
            (
                "TriggerTemplate",
                "name conditions k8s argoWorkflow http awsLambda custom kafka nats slack openWhisk log azureEventHubs pulsar conditionsReset azureServiceBus email",
            ),
            (
                "StandardK8sTrigger",
                "source operation parameters patchStrategy liveObject",
            ),
            (
                "TriggerArtifactLocation",
                "s3 inline file url configmap git resource",
            ),
            (
                "HttpTrigger",
                "url payload tls method parameters timeout basicAuth headers secureHeaders dynamicHeaders host",
            ),
            (
                "TriggerParameterSource",
                "dependencyName contextKey contextTemplate dataKey dataTemplate value useRawData",
            ),
            ("K8sResourcePolicy", "labels backoff errorOnBackoffTimeout"),
            ("TriggerRetryBackoff", "duration factor jitter steps"),
            ("TriggerRateLimit", "unit requestsPerUnit"),
            (
                "EventTlsConfig",
                "caCertSecret clientCertSecret clientKeySecret insecureSkipVerify enabled",
            ),
        ];
        let structs = all_structs();
        for (name, want) in cases {
            let (_, got) = structs.iter().find(|(n, _)| n == name).unwrap();
            let want: Vec<&str> = want.split_whitespace().collect();
            assert_eq!(sorted(got), sorted(&want), "{name}");
        }
    }

    // --- field policy ------------------------------------------------------------------------

    #[test]
    fn every_unsupported_source_and_trigger_is_an_error() {
        let spec = EventSourceSpec::default();
        let sources = spec.unsupported_sources();
        assert_eq!(sources.len(), 30);
        for (name, _) in sources {
            let p = policy("EventSourceSpec", name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(p.severity, crate::Severity::Error, "{name}");
            assert!(p.reason.contains("event source"), "{name}: {}", p.reason);
        }
        let template = TriggerTemplate::default();
        for (name, _) in template.unsupported_triggers() {
            let p = policy("TriggerTemplate", name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(p.severity, crate::Severity::Error, "{name}");
            assert!(p.reason.contains(" trigger, "), "{name}: {}", p.reason);
        }
        for name in ["webhook", "calendar", "eventBusName"] {
            assert_eq!(policy("EventSourceSpec", name), None, "{name}");
        }
        for name in ["argoWorkflow", "k8s", "http", "log", "name", "conditions"] {
            assert_eq!(policy("TriggerTemplate", name), None, "{name}");
        }
    }

    #[test]
    fn policy_examples() {
        use crate::Severity::{Error, Warning};
        type Case = (
            &'static str,
            &'static str,
            Option<(crate::Severity, &'static str)>,
        );
        let cases: &[Case] = &[
            (
                "EventSourceSpec",
                "github",
                Some((
                    Error,
                    "is the GitHub event source, which is not supported yet; Switchyard runs \
                     webhook and calendar sources",
                )),
            ),
            (
                "EventBusSpec",
                "kafka",
                Some((
                    Error,
                    "is the Kafka EventBus, which is not supported; use nats, jetstream or \
                     jetstreamExotic",
                )),
            ),
            (
                "TriggerTemplate",
                "awsLambda",
                Some((
                    Error,
                    "is the AWS Lambda trigger, which is not supported yet; Switchyard runs \
                     argoWorkflow, k8s, http and log triggers",
                )),
            ),
            (
                "TriggerArtifactLocation",
                "git",
                Some((
                    Error,
                    "reads the trigger's object from a Git repository, which is not supported \
                     yet; put the object itself under `source.resource`",
                )),
            ),
            ("TriggerArtifactLocation", "resource", None),
            (
                "NatsNativeStrategy",
                "replicas",
                Some((Warning, BUS_REPLICAS)),
            ),
            ("NatsNativeStrategy", "maxAge", None),
            ("NatsBus", "native", None),
            (
                "EventSourceSpec",
                "service",
                Some((
                    Warning,
                    "creates a Kubernetes Service; Switchyard serves each webhook on its own `port` directly, so it has no effect",
                )),
            ),
            ("SensorSpec", "template", Some((Warning, SENSOR_POD))),
            (
                "EventContextFilter",
                "time",
                Some((Warning, CONTEXT_IGNORED)),
            ),
            ("EventContextFilter", "type", None),
            ("Sensor", "status", Some((Warning, STATUS))),
            ("Workflow", "status", None),
        ];
        for (type_name, field, want) in cases {
            let got = policy(type_name, field).map(|p| (p.severity, p.reason));
            assert_eq!(got, *want, "{type_name}.{field}");
        }
    }

    // --- Sensor ------------------------------------------------------------------------------

    const BODY_KEYS: [&str; 6] = [
        "region",
        "cloud_provider",
        "resource_type",
        "environment",
        "requester_name",
        "requester_email",
    ];

    fn seed_sensor_json() -> String {
        let params: Vec<String> = BODY_KEYS
            .iter()
            .enumerate()
            .map(|(i, key)| {
                format!(
                    r#"{{"src": {{"dependencyName": "environment-order", "dataKey": "body.{key}"}},
                        "dest": "spec.arguments.parameters.{i}.value"}}"#
                )
            })
            .collect();
        let arguments: Vec<String> = BODY_KEYS
            .iter()
            .map(|key| format!(r#"{{"name": "{key}"}}"#))
            .collect();
        format!(
            r#"{{
  "apiVersion": "argoproj.io/v1alpha1",
  "kind": "Sensor",
  "metadata": {{"name": "environments", "namespace": "argo-events"}},
  "spec": {{
    "eventBusName": "eventbus",
    "template": {{"serviceAccountName": "operate-workflow-sa"}},
    "dependencies": [
      {{"name": "environment-order", "eventSourceName": "webhook", "eventName": "environments"}}
    ],
    "triggers": [
      {{
        "template": {{
          "name": "provision-environment",
          "argoWorkflow": {{
            "operation": "submit",
            "source": {{
              "resource": {{
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Workflow",
                "metadata": {{"generateName": "provision-environment-"}},
                "spec": {{
                  "workflowTemplateRef": {{"name": "terraform-environment"}},
                  "arguments": {{"parameters": [{}]}}
                }}
              }}
            }},
            "parameters": [{}]
          }}
        }}
      }}
    ]
  }}
}}"#,
            arguments.join(", "),
            params.join(", ")
        )
    }

    #[test]
    fn seed_sensor() {
        let text = seed_sensor_json();
        let sensor: Sensor = serde_json::from_str(&text).unwrap();
        assert_eq!(sensor.metadata.name.as_deref(), Some("environments"));
        assert_eq!(sensor.event_bus_name(), "eventbus");
        assert_eq!(
            sensor.dependency("environment-order"),
            Some(&EventDependency {
                name: "environment-order".into(),
                event_source_name: "webhook".into(),
                event_name: "environments".into(),
                ..EventDependency::default()
            })
        );
        assert_eq!(sensor.dependency("missing"), None);
        assert!(sensor.spec.template.is_some());

        let trigger = sensor.trigger("provision-environment").unwrap();
        assert_eq!(trigger.attempts(), 1);
        assert_eq!(trigger.template.trigger_types(), vec!["argoWorkflow"]);
        let wf = trigger.template.argo_workflow.as_ref().unwrap();
        assert_eq!(wf.operation(), ArgoWorkflowOperation::Submit);
        let source = wf.source.as_ref().unwrap();
        assert_eq!(source.locations(), vec!["resource"]);
        let resource = source.resource.as_ref().unwrap();
        assert_eq!(resource["kind"], "Workflow");
        assert_eq!(
            resource["spec"]["arguments"]["parameters"][5]["name"],
            "requester_email"
        );
        let want: Vec<TriggerParameter> = BODY_KEYS
            .iter()
            .enumerate()
            .map(|(i, key)| TriggerParameter {
                src: TriggerParameterSource {
                    dependency_name: "environment-order".into(),
                    data_key: Some(format!("body.{key}")),
                    ..TriggerParameterSource::default()
                },
                dest: format!("spec.arguments.parameters.{i}.value"),
                operation: None,
            })
            .collect();
        assert_eq!(wf.parameters, want);
        assert_eq!(
            wf.parameters[0].operation(),
            TriggerParameterOperation::Overwrite
        );

        // Nothing is lost on the way back out.
        let original: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_value(&sensor).unwrap(), original);
    }

    #[test]
    fn filters_of_every_kind() {
        let text = r#"{
          "name": "order",
          "eventSourceName": "webhook",
          "eventName": "environments",
          "filtersLogicalOperator": "or",
          "transform": {"jq": ".body.region |= ascii_upcase", "script": "return event"},
          "filters": {
            "time": {"start": "08:00:00", "stop": "18:30:00", "timezone": "Europe/Paris"},
            "context": {
              "id": "42", "source": "webhook", "specversion": "1.0", "type": "webhook",
              "datacontenttype": "application/json", "subject": "environments",
              "time": "2024-01-01T00:00:00Z"
            },
            "data": [
              {"path": "body.region", "type": "string", "value": ["eu-.*", "us-east-1"]},
              {"path": "body.size", "type": "number", "value": ["3"], "comparator": ">="},
              {"path": "body.approved", "type": "bool", "value": ["true"], "comparator": "!="},
              {"path": "body.name", "type": "string", "value": ["prod"],
               "template": "{{ upper .Input }}"}
            ],
            "exprs": [
              {"expr": "size > 2 && env == 'prod'",
               "fields": [{"name": "size", "path": "body.size"}, {"name": "env", "path": "body.environment"}]}
            ],
            "dataLogicalOperator": "or",
            "exprLogicalOperator": "and",
            "script": "if event.body.a == nil then return false end return true"
          }
        }"#;
        let dep: EventDependency = serde_json::from_str(text).unwrap();
        let want = EventDependency {
            name: "order".into(),
            event_source_name: "webhook".into(),
            event_name: "environments".into(),
            filters_logical_operator: Some(FilterLogicalOperator::Or),
            transform: Some(EventDependencyTransformer {
                jq: Some(".body.region |= ascii_upcase".into()),
                script: Some("return event".into()),
            }),
            filters: Some(EventDependencyFilter {
                time: Some(TimeFilter {
                    start: "08:00:00".into(),
                    stop: "18:30:00".into(),
                    timezone: Some("Europe/Paris".into()),
                }),
                context: Some(EventContextFilter {
                    id: Some("42".into()),
                    source: Some("webhook".into()),
                    specversion: Some("1.0".into()),
                    type_: Some("webhook".into()),
                    datacontenttype: Some("application/json".into()),
                    subject: Some("environments".into()),
                    time: Some("2024-01-01T00:00:00Z".into()),
                }),
                data: vec![
                    DataFilter {
                        path: "body.region".into(),
                        type_: DataFilterType::String,
                        value: vec!["eu-.*".into(), "us-east-1".into()],
                        comparator: None,
                        template: None,
                    },
                    DataFilter {
                        path: "body.size".into(),
                        type_: DataFilterType::Number,
                        value: vec!["3".into()],
                        comparator: Some(DataFilterComparator::GreaterThanOrEqualTo),
                        template: None,
                    },
                    DataFilter {
                        path: "body.approved".into(),
                        type_: DataFilterType::Bool,
                        value: vec!["true".into()],
                        comparator: Some(DataFilterComparator::NotEqualTo),
                        template: None,
                    },
                    DataFilter {
                        path: "body.name".into(),
                        type_: DataFilterType::String,
                        value: vec!["prod".into()],
                        comparator: None,
                        template: Some("{{ upper .Input }}".into()),
                    },
                ],
                exprs: vec![ExprFilter {
                    expr: "size > 2 && env == 'prod'".into(),
                    fields: vec![
                        PayloadField {
                            path: "body.size".into(),
                            name: "size".into(),
                        },
                        PayloadField {
                            path: "body.environment".into(),
                            name: "env".into(),
                        },
                    ],
                }],
                data_logical_operator: Some(FilterLogicalOperator::Or),
                expr_logical_operator: Some(FilterLogicalOperator::And),
                script: Some("if event.body.a == nil then return false end return true".into()),
            }),
        };
        assert_eq!(dep, want);
        assert_eq!(
            dep.filters.as_ref().unwrap().data[0].comparator(),
            DataFilterComparator::EqualTo
        );
        let original: Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_value(&dep).unwrap(), original);
    }

    #[test]
    fn enum_spellings() {
        fn parse<T: DeserializeOwned>(s: &str) -> Result<T, String> {
            serde_json::from_str(&format!("\"{s}\"")).map_err(|e| e.to_string())
        }
        use DataFilterComparator as C;
        let comparators = [
            (">=", C::GreaterThanOrEqualTo),
            (">", C::GreaterThan),
            ("=", C::EqualTo),
            ("", C::EqualTo),
            ("!=", C::NotEqualTo),
            ("<", C::LessThan),
            ("<=", C::LessThanOrEqualTo),
        ];
        for (text, want) in comparators {
            assert_eq!(parse::<C>(text), Ok(want), "{text:?}");
        }
        let e = parse::<C>("==").unwrap_err();
        assert!(
            e.starts_with("unknown variant `==`, expected one of"),
            "{e}"
        );

        assert_eq!(
            parse("").map(|o: FilterLogicalOperator| o),
            Ok(FilterLogicalOperator::And)
        );
        assert_eq!(parse("or"), Ok(FilterLogicalOperator::Or));
        assert!(parse::<FilterLogicalOperator>("OR").is_err());
        assert_eq!(parse("submit-from"), Ok(ArgoWorkflowOperation::SubmitFrom));
        assert_eq!(parse(""), Ok(ArgoWorkflowOperation::Submit));
        assert_eq!(parse("terminate"), Ok(ArgoWorkflowOperation::Terminate));
        assert_eq!(parse("patch"), Ok(K8sTriggerOperation::Patch));
        assert_eq!(parse(""), Ok(K8sTriggerOperation::Create));
        assert_eq!(parse("prepend"), Ok(TriggerParameterOperation::Prepend));
        assert_eq!(parse(""), Ok(TriggerParameterOperation::Overwrite));
        assert_eq!(parse("Minute"), Ok(TriggerRateLimitUnit::Minute));
        assert_eq!(parse(""), Ok(TriggerRateLimitUnit::Second));
        assert_eq!(parse("token"), Ok(NatsAuthStrategy::Token));
        assert_eq!(parse("number"), Ok(DataFilterType::Number));
        assert!(parse::<DataFilterType>("int").is_err());
        // Canonical spelling on the way out.
        assert_eq!(
            serde_json::to_string(&ArgoWorkflowOperation::SubmitFrom).unwrap(),
            "\"submit-from\""
        );
        assert_eq!(
            serde_json::to_string(&C::LessThanOrEqualTo).unwrap(),
            "\"<=\""
        );
    }

    #[test]
    fn conditions_http_log_and_k8s_triggers() {
        let text = r#"{
          "apiVersion": "argoproj.io/v1alpha1",
          "kind": "Sensor",
          "metadata": {"name": "multi"},
          "spec": {
            "errorOnFailedRound": true,
            "loggingFields": {"team": "platform"},
            "replicas": 2,
            "revisionHistoryLimit": 3,
            "dependencies": [
              {"name": "a", "eventSourceName": "webhook", "eventName": "one"},
              {"name": "b", "eventSourceName": "webhook", "eventName": "two"},
              {"name": "tick", "eventSourceName": "cron", "eventName": "every-minute"}
            ],
            "triggers": [
              {
                "template": {
                  "name": "notify",
                  "conditions": "(a || b) && tick",
                  "conditionsReset": [{"byTime": {"cron": "0 0 * * *", "timezone": "UTC"}}],
                  "http": {
                    "url": "https://hooks.example.com/notify",
                    "method": "PUT",
                    "timeout": 10,
                    "headers": {"X-Team": "platform"},
                    "secureHeaders": [
                      {"name": "Authorization",
                       "valueFrom": {"secretKeyRef": {"name": "hook", "key": "token"}}},
                      {"name": "X-Tenant",
                       "valueFrom": {"configMapKeyRef": {"name": "hook-cfg", "key": "tenant"}}}
                    ],
                    "basicAuth": {
                      "username": {"name": "hook", "key": "user"},
                      "password": {"name": "hook", "key": "pass"}
                    },
                    "tls": {"caCertSecret": {"name": "ca", "key": "ca.crt"}, "insecureSkipVerify": false},
                    "payload": [
                      {"src": {"dependencyName": "a", "dataKey": "body", "useRawData": true}, "dest": "order"},
                      {"src": {"dependencyName": "tick", "contextKey": "time", "value": "never"}, "dest": "at"}
                    ],
                    "parameters": [
                      {"src": {"dependencyName": "a", "dataTemplate": "{{ .Input.body.url }}"},
                       "dest": "http.url", "operation": "overwrite"}
                    ],
                    "dynamicHeaders": [
                      {"src": {"dependencyName": "b", "contextTemplate": "{{ .Input.id }}"}, "dest": "X-Event"}
                    ],
                    "host": "hooks.internal"
                  }
                },
                "policy": {"status": {"allow": [200, 201, 202]}},
                "retryStrategy": {"steps": 3, "duration": "2s", "factor": 2, "jitter": 0.1},
                "rateLimit": {"unit": "Minute", "requestsPerUnit": 20},
                "atLeastOnce": true,
                "dlqTrigger": {"template": {"name": "dead-letter", "log": {"intervalSeconds": 5}}}
              },
              {
                "template": {
                  "name": "create-workflow",
                  "k8s": {
                    "operation": "create",
                    "source": {"resource": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                               "metadata": {"generateName": "k8s-"}}},
                    "parameters": [{"src": {"dependencyName": "a", "dataKey": "body.x"},
                                    "dest": "metadata.labels.x", "operation": "append"}],
                    "patchStrategy": "application/merge-patch+json",
                    "liveObject": false
                  }
                },
                "policy": {
                  "k8s": {
                    "labels": {"workflows.argoproj.io/phase": "Succeeded"},
                    "backoff": {"steps": 10, "duration": 1000000000},
                    "errorOnBackoffTimeout": true
                  }
                }
              }
            ]
          }
        }"#;
        let sensor: Sensor = serde_json::from_str(text).unwrap();
        assert_eq!(sensor.event_bus_name(), DEFAULT_EVENT_BUS_NAME);
        assert_eq!(sensor.spec.error_on_failed_round, Some(true));
        assert_eq!(sensor.spec.logging_fields["team"], "platform");

        let notify = sensor.trigger("notify").unwrap();
        let t = &notify.template;
        assert_eq!(t.conditions.as_deref(), Some("(a || b) && tick"));
        assert_eq!(
            t.conditions_reset,
            vec![ConditionsResetCriteria {
                by_time: Some(ConditionsResetByTime {
                    cron: Some("0 0 * * *".into()),
                    timezone: Some("UTC".into()),
                }),
            }]
        );
        let http = t.http.as_ref().unwrap();
        assert_eq!(http.url, "https://hooks.example.com/notify");
        assert_eq!(http.method(), "PUT");
        assert_eq!(http.timeout(), Duration::from_secs(10));
        assert_eq!(http.headers["X-Team"], "platform");
        assert_eq!(
            http.secure_headers[0]
                .value_from
                .as_ref()
                .unwrap()
                .secret_key_ref,
            Some(SecretKeySelector {
                name: "hook".into(),
                key: "token".into(),
                optional: None
            })
        );
        assert_eq!(
            http.secure_headers[1]
                .value_from
                .as_ref()
                .unwrap()
                .config_map_key_ref
                .as_ref()
                .map(|s| s.key.as_str()),
            Some("tenant")
        );
        assert_eq!(
            http.basic_auth
                .as_ref()
                .unwrap()
                .password
                .as_ref()
                .unwrap()
                .key,
            "pass"
        );
        assert_eq!(http.tls.as_ref().unwrap().insecure_skip_verify, Some(false));
        assert_eq!(http.payload[0].src.use_raw_data, Some(true));
        assert_eq!(http.payload[1].src.context_key.as_deref(), Some("time"));
        assert_eq!(http.payload[1].src.value.as_deref(), Some("never"));
        assert_eq!(
            http.parameters[0].src.data_template.as_deref(),
            Some("{{ .Input.body.url }}")
        );
        assert_eq!(http.dynamic_headers[0].dest, "X-Event");
        assert_eq!(http.host.as_deref(), Some("hooks.internal"));
        assert_eq!(
            notify
                .policy
                .as_ref()
                .unwrap()
                .status
                .as_ref()
                .unwrap()
                .allow,
            vec![200, 201, 202]
        );
        let retry = notify.retry_strategy.as_ref().unwrap();
        assert_eq!(notify.attempts(), 3);
        assert_eq!(retry.initial_duration(), Ok(Duration::from_secs(2)));
        assert_eq!(retry.factor(), 2.0);
        assert_eq!(retry.jitter(), 0.1);
        let rate = notify.rate_limit.as_ref().unwrap();
        assert_eq!(rate.unit(), TriggerRateLimitUnit::Minute);
        assert_eq!(rate.unit().duration(), Duration::from_secs(60));
        assert_eq!(rate.requests_per_unit, Some(20));
        assert_eq!(notify.at_least_once, Some(true));
        let dlq = notify.dlq_trigger.as_ref().unwrap();
        assert_eq!(dlq.template.name, "dead-letter");
        assert_eq!(dlq.template.trigger_types(), vec!["log"]);
        assert_eq!(
            dlq.template.log.as_ref().unwrap().interval(),
            Duration::from_secs(5)
        );

        let create = sensor.trigger("create-workflow").unwrap();
        let k8s = create.template.k8s.as_ref().unwrap();
        assert_eq!(k8s.operation(), K8sTriggerOperation::Create);
        assert_eq!(
            k8s.parameters[0].operation(),
            TriggerParameterOperation::Append
        );
        assert_eq!(k8s.live_object, Some(false));
        let k8s_policy = create.policy.as_ref().unwrap().k8s.as_ref().unwrap();
        assert_eq!(
            k8s_policy.labels["workflows.argoproj.io/phase"],
            "Succeeded"
        );
        assert_eq!(k8s_policy.error_on_backoff_timeout, Some(true));
        let backoff = k8s_policy.backoff.as_ref().unwrap();
        assert_eq!(backoff.attempts(), 10);
        assert_eq!(backoff.initial_duration(), Ok(Duration::from_secs(1)));

        let original: Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_value(&sensor).unwrap(), original);
    }

    #[test]
    fn unsupported_triggers_and_sources_are_kept_opaque() {
        let text = r#"{
          "name": "several",
          "awsLambda": {"functionName": "f", "region": "eu-west-1"},
          "slack": {"channel": "ops", "message": "hi"},
          "http": {"url": "http://localhost:9000"}
        }"#;
        let t: TriggerTemplate = serde_json::from_str(text).unwrap();
        assert_eq!(t.trigger_types(), vec!["http", "awsLambda", "slack"]);
        assert_eq!(t.aws_lambda.as_ref().unwrap()["region"], "eu-west-1");
        let original: Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_value(&t).unwrap(), original);

        let loc: TriggerArtifactLocation = serde_json::from_str(
            r#"{"inline": "kind: Workflow", "configmap": {"name": "wf", "key": "wf.yaml"},
                "git": {"url": "https://example.com/r.git", "filePath": "wf.yaml"}}"#,
        )
        .unwrap();
        assert_eq!(loc.locations(), vec!["inline", "configmap", "git"]);
    }

    #[test]
    fn missing_required_fields_are_named() {
        let cases = [
            (
                r#"{"name": "a", "eventSourceName": "webhook"}"#,
                "missing field `eventName`",
            ),
            (
                r#"{"name": "a", "eventName": "x"}"#,
                "missing field `eventSourceName`",
            ),
        ];
        for (text, want) in cases {
            let e = serde_json::from_str::<EventDependency>(text)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(want), "{text}: {e}");
        }
        let e = serde_json::from_str::<TriggerParameter>(r#"{"src": {"dependencyName": "a"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("missing field `dest`"), "{e}");
        let e = serde_json::from_str::<SensorTrigger>(r#"{"parameters": []}"#)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("missing field `template`"), "{e}");
    }

    #[test]
    fn backoff_values() {
        type Case = (&'static str, u32, Result<Duration, &'static str>, f64, f64);
        let cases: &[Case] = &[
            ("{}", 5, Ok(Duration::from_secs(1)), 1.0, 1.0),
            (
                r#"{"steps": 0, "duration": 500}"#,
                5,
                Ok(Duration::from_nanos(500)),
                1.0,
                1.0,
            ),
            (
                r#"{"steps": 2, "duration": "1m30s", "factor": 1.5, "jitter": 0}"#,
                2,
                Ok(Duration::from_secs(90)),
                1.5,
                0.0,
            ),
            (
                r#"{"steps": -1, "duration": "10"}"#,
                5,
                Err("invalid duration `10`: missing unit"),
                1.0,
                1.0,
            ),
            (
                r#"{"duration": -3}"#,
                5,
                Err("duration -3 is negative"),
                1.0,
                1.0,
            ),
        ];
        for (text, attempts, duration, factor, jitter) in cases {
            let b: TriggerRetryBackoff = serde_json::from_str(text).unwrap();
            assert_eq!(b.attempts(), *attempts, "{text}");
            match (b.initial_duration(), duration) {
                (Ok(got), Ok(want)) => assert_eq!(got, *want, "{text}"),
                (Err(got), Err(want)) => assert!(got.starts_with(want), "{text}: {got}"),
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
            assert_eq!(b.factor(), *factor, "{text}");
            assert_eq!(b.jitter(), *jitter, "{text}");
        }
        // Integers stay integers on the way out.
        let b: TriggerRetryBackoff =
            serde_json::from_str(r#"{"duration": 1000, "factor": 2, "jitter": 0.5, "steps": 4}"#)
                .unwrap();
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"duration":1000,"factor":2,"jitter":0.5,"steps":4}"#
        );
    }

    #[test]
    fn go_durations() {
        let ok: &[(&str, Duration)] = &[
            ("0", Duration::ZERO),
            ("+0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("10s", Duration::from_secs(10)),
            ("1h30m", Duration::from_secs(5400)),
            ("1.5s", Duration::from_millis(1500)),
            (".5m", Duration::from_secs(30)),
            ("1.s", Duration::from_secs(1)),
            ("300ms", Duration::from_millis(300)),
            ("2us", Duration::from_micros(2)),
            ("2\u{b5}s", Duration::from_micros(2)),
            ("2\u{3bc}s", Duration::from_micros(2)),
            ("7ns", Duration::from_nanos(7)),
            ("1h1m1s1ms1us1ns", Duration::from_nanos(3_661_001_001_001)),
            ("0.000000001s", Duration::from_nanos(1)),
            ("72h", Duration::from_secs(72 * 3600)),
            ("2562047h", Duration::from_secs(2_562_047 * 3600)),
        ];
        for (text, want) in ok {
            assert_eq!(parse_go_duration(text), Ok(*want), "{text}");
        }
        let bad: &[(&str, &str)] = &[
            ("", "expected a number and a unit"),
            ("10", "missing unit"),
            ("1d", "unknown unit `d`"),
            ("s", "expected a number"),
            (".s", "expected a number"),
            ("1.5.5s", "missing unit"),
            ("-1s", "negative durations are not allowed"),
            ("3000000h", "longer than the maximum"),
            ("1h ", "unknown unit `h `"),
        ];
        for (text, want) in bad {
            let e = parse_go_duration(text).unwrap_err();
            assert_eq!(
                e,
                format!(
                    "invalid duration `{text}`: {}",
                    e.split_once(": ").unwrap().1
                ),
            );
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    // --- EventSource -------------------------------------------------------------------------

    #[test]
    fn webhook_and_calendar_source() {
        let text = r#"{
          "apiVersion": "argoproj.io/v1alpha1",
          "kind": "EventSource",
          "metadata": {"name": "webhook", "namespace": "argo-events"},
          "spec": {
            "eventBusName": "eventbus",
            "replicas": 1,
            "template": {"container": {"env": [{"name": "DEBUG_LOG", "value": "true"}]}},
            "service": {"ports": [{"port": 12000, "targetPort": 12000}], "clusterIP": "None",
                        "metadata": {"labels": {"app": "hooks"}}},
            "webhook": {
              "environments": {"port": "12000", "endpoint": "/environments", "method": "POST",
                               "maxPayloadSize": 2048,
                               "authSecret": {"name": "hook-token", "key": "token"},
                               "metadata": {"team": "platform"},
                               "filter": {"expression": "body.region != ''"}},
              "applications": {"port": "12000", "endpoint": "/applications", "method": "POST"},
              "configuration": {"port": "12000", "endpoint": "/configuration", "method": "POST",
                                "url": "http://idp.example.com",
                                "serverCertSecret": {"name": "tls", "key": "tls.crt"},
                                "serverKeySecret": {"name": "tls", "key": "tls.key"}}
            },
            "calendar": {
              "nightly": {
                "schedule": "0 2 * * *",
                "timezone": "Europe/Berlin",
                "exclusionDates": ["2024-12-25T00:00:00Z"],
                "metadata": {"kind": "cleanup"},
                "persistence": {
                  "catchup": {"enabled": true, "maxDuration": "5m"},
                  "configMap": {"name": "calendar-state", "createIfNotExist": true}
                },
                "filter": {"expression": "true"}
              },
              "every-ten-seconds": {"interval": "10s"}
            },
            "github": {"repo-events": {"owner": "o", "repository": "r"}}
          }
        }"#;
        let es: EventSource = serde_json::from_str(text).unwrap();
        assert_eq!(es.event_bus_name(), "eventbus");
        let names: Vec<&str> = es.webhooks().map(|(n, _)| n).collect();
        assert_eq!(names, vec!["applications", "configuration", "environments"]);
        let env = &es.spec.webhook["environments"];
        assert_eq!(
            env,
            &WebhookEventSource {
                endpoint: "/environments".into(),
                method: "POST".into(),
                port: "12000".into(),
                max_payload_size: Some(2048),
                auth_secret: Some(SecretKeySelector {
                    name: "hook-token".into(),
                    key: "token".into(),
                    optional: None
                }),
                metadata: BTreeMap::from([("team".to_owned(), "platform".to_owned())]),
                filter: Some(EventSourceFilter {
                    expression: Some("body.region != ''".into())
                }),
                ..WebhookEventSource::default()
            }
        );
        assert_eq!(env.port_number(), Ok(12000));
        assert_eq!(env.max_payload_size(), 2048);
        assert_eq!(
            es.spec.webhook["applications"].max_payload_size(),
            DEFAULT_WEBHOOK_MAX_PAYLOAD_SIZE
        );
        let cfg = &es.spec.webhook["configuration"];
        assert_eq!(cfg.url.as_deref(), Some("http://idp.example.com"));
        assert_eq!(cfg.server_key_secret.as_ref().unwrap().key, "tls.key");

        let calendars: Vec<&str> = es.calendars().map(|(n, _)| n).collect();
        assert_eq!(calendars, vec!["every-ten-seconds", "nightly"]);
        let nightly = &es.spec.calendar["nightly"];
        assert_eq!(
            nightly,
            &CalendarEventSource {
                schedule: Some("0 2 * * *".into()),
                interval: None,
                exclusion_dates: vec!["2024-12-25T00:00:00Z".into()],
                timezone: Some("Europe/Berlin".into()),
                metadata: BTreeMap::from([("kind".to_owned(), "cleanup".to_owned())]),
                persistence: Some(EventPersistence {
                    catchup: Some(CatchupConfiguration {
                        enabled: Some(true),
                        max_duration: Some("5m".into()),
                    }),
                    config_map: Some(ConfigMapPersistence {
                        name: Some("calendar-state".into()),
                        create_if_not_exist: Some(true),
                    }),
                }),
                filter: Some(EventSourceFilter {
                    expression: Some("true".into())
                }),
            }
        );
        assert!(nightly.persistence.as_ref().unwrap().is_catchup_enabled());
        assert_eq!(
            es.spec.calendar["every-ten-seconds"].interval.as_deref(),
            Some("10s")
        );
        let service = es.spec.service.as_ref().unwrap();
        assert_eq!(service.cluster_ip.as_deref(), Some("None"));
        assert_eq!(service.ports.len(), 1);

        assert_eq!(
            es.spec.events(),
            vec![
                ("webhook", "applications"),
                ("webhook", "configuration"),
                ("webhook", "environments"),
                ("calendar", "every-ten-seconds"),
                ("calendar", "nightly"),
                ("github", "repo-events"),
            ]
        );
        assert!(es.spec.has_event("repo-events"));
        assert!(!es.spec.has_event("deployments"));

        let original: Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_value(&es).unwrap(), original);
    }

    #[test]
    fn webhook_ports() {
        let cases: &[(&str, Result<u16, &str>)] = &[
            ("12000", Ok(12000)),
            (" 80 ", Ok(80)),
            ("65535", Ok(65535)),
            ("0", Err("port `0` is not a TCP port number (1-65535)")),
            (
                "65536",
                Err("port `65536` is not a TCP port number (1-65535)"),
            ),
            (
                "http",
                Err("port `http` is not a TCP port number (1-65535)"),
            ),
            ("", Err("port `` is not a TCP port number (1-65535)")),
        ];
        for (port, want) in cases {
            let w = WebhookEventSource {
                port: (*port).to_owned(),
                ..WebhookEventSource::default()
            };
            assert_eq!(w.port_number(), want.map_err(str::to_owned), "{port:?}");
        }
    }

    #[test]
    fn webhook_port_must_be_a_string_as_in_argo() {
        let e = serde_json::from_str::<WebhookEventSource>(
            r#"{"port": 12000, "endpoint": "/x", "method": "POST"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("invalid type: integer `12000`, expected a string"),
            "{e}"
        );
    }

    #[test]
    fn event_source_defaults() {
        let es: EventSource = serde_json::from_str(
            r#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "EventSource",
                "metadata": {"name": "empty"}, "spec": {"eventBusName": ""}}"#,
        )
        .unwrap();
        assert_eq!(es.event_bus_name(), DEFAULT_EVENT_BUS_NAME);
        assert_eq!(es.webhooks().count(), 0);
        assert!(es.spec.events().is_empty());
    }

    // --- EventBus ----------------------------------------------------------------------------

    #[test]
    fn event_bus_kinds() {
        let cases: &[(&str, &[&str])] = &[
            (
                r#"{"nats": {"native": {"replicas": 3, "auth": "token"}}}"#,
                &["nats"],
            ),
            (
                r#"{"nats": {"exotic": {"url": "nats://x:4222", "clusterID": "c", "auth": "token",
                    "accessSecret": {"name": "n", "key": "k"}}}}"#,
                &["nats"],
            ),
            (
                r#"{"jetstream": {"version": "2.9.1", "replicas": 3, "settings": "max_file_store: 1GB",
                    "streamConfig": "maxAge: 24h", "maxPayload": "1MB", "startArgs": ["-D"],
                    "persistence": {"volumeSize": "10Gi"}}}"#,
                &["jetstream"],
            ),
            (
                r#"{"jetstreamExotic": {"url": "nats://127.0.0.1:4222",
                    "accessSecret": {"name": "js", "key": "token"}, "streamConfig": "",
                    "tls": {"enabled": true}}}"#,
                &["jetstreamExotic"],
            ),
            (
                r#"{"kafka": {"url": "kafka:9092", "topic": "events", "version": "3.5.0",
                    "tls": {"caCertSecret": {"name": "ca", "key": "ca.crt"}},
                    "sasl": {"mechanism": "PLAIN", "userSecret": {"name": "u", "key": "u"},
                             "passwordSecret": {"name": "p", "key": "p"}},
                    "consumerGroup": {"groupName": "g", "oldest": true, "rebalanceStrategy": "range"}}}"#,
                &["kafka"],
            ),
            (r#"{}"#, &[]),
            (
                r#"{"nats": {"native": {}}, "jetstreamExotic": {"url": "nats://x"}}"#,
                &["nats", "jetstreamExotic"],
            ),
        ];
        for (text, want) in cases {
            let spec: EventBusSpec = serde_json::from_str(text).unwrap();
            assert_eq!(spec.bus_kinds(), *want, "{text}");
            let original: Value = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_value(&spec).unwrap(), original, "{text}");
        }
    }

    #[test]
    fn seed_event_bus_nats_native() {
        let text = r#"{
          "apiVersion": "argoproj.io/v1alpha1",
          "kind": "EventBus",
          "metadata": {"name": "eventbus", "namespace": "argo-events"},
          "spec": {"nats": {"native": {
            "replicas": 3, "auth": "token", "maxAge": "72h", "maxMsgs": 1000000,
            "maxBytes": "1GB", "maxSubs": 1000, "maxPayload": "1MB",
            "persistence": {"storageClassName": "standard", "accessMode": "ReadWriteOnce", "volumeSize": "10Gi"},
            "containerTemplate": {"resources": {"requests": {"cpu": "10m"}}},
            "metricsContainerTemplate": {"imagePullPolicy": "IfNotPresent"},
            "nodeSelector": {"disk": "ssd"},
            "tolerations": [{"key": "dedicated", "operator": "Exists"}],
            "metadata": {"labels": {"bus": "main"}},
            "securityContext": {"runAsNonRoot": true},
            "imagePullSecrets": [{"name": "registry"}],
            "serviceAccountName": "bus",
            "priorityClassName": "high",
            "priority": 100,
            "affinity": {"podAntiAffinity": {}},
            "raftHeartbeatTimeout": "2s", "raftElectionTimeout": "2s",
            "raftLeaseTimeout": "1s", "raftCommitTimeout": "100ms"
          }}},
          "status": {"conditions": [{"type": "Deployed", "status": "True"}]}
        }"#;
        let bus: EventBus = serde_json::from_str(text).unwrap();
        let native = bus.spec.nats.as_ref().unwrap().native.as_ref().unwrap();
        assert_eq!(native.replicas, Some(3));
        assert_eq!(native.auth, Some(NatsAuthStrategy::Token));
        assert_eq!(native.max_age.as_deref(), Some("72h"));
        assert_eq!(native.max_msgs, Some(1_000_000));
        assert_eq!(native.max_bytes.as_deref(), Some("1GB"));
        assert_eq!(native.max_subs, Some(1000));
        assert_eq!(native.max_payload.as_deref(), Some("1MB"));
        assert_eq!(native.raft_commit_timeout.as_deref(), Some("100ms"));
        assert_eq!(native.node_selector.as_ref().unwrap()["disk"], "ssd");
        assert!(bus.status.is_some());
        let original: Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_value(&bus).unwrap(), original);
    }

    #[test]
    fn resources_deserialize_through_kind() {
        let cases = [
            (crate::Kind::Sensor, seed_sensor_json()),
            (
                crate::Kind::EventBus,
                r#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "EventBus",
                    "metadata": {"name": "default"}, "spec": {"jetstream": {"version": "latest"}}}"#
                    .to_owned(),
            ),
            (
                crate::Kind::EventSource,
                r#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "EventSource",
                    "metadata": {"name": "hooks"},
                    "spec": {"webhook": {"a": {"port": "1", "endpoint": "/", "method": "GET"}}}}"#
                    .to_owned(),
            ),
        ];
        for (kind, text) in cases {
            let value: Value = serde_json::from_str(&text).unwrap();
            let resource = crate::Resource::from_value(kind, value.clone()).unwrap();
            assert_eq!(resource.kind(), kind);
            assert_eq!(resource.to_value(), value, "{kind}");
        }
    }
}
