//! One run of Kafka mode on fresh topics: topics, the in-process processor, the producer, the
//! wait until everything is committed, and the drain. The producer and topic creation serve
//! the drain phase too.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::config::Config;
use crate::pipeline::kafka::{self, KafkaOptions, KafkaRunError};
use crate::rules::RulePack;

use super::watch::{consume, Sample, Watch};
use super::{client, Msg, INPUT_PARTITIONS, OUTPUT_PARTITIONS, QUIET, WARMUP};
use crate::bench::BenchError;

/// One run of Kafka mode on fresh topics, with its output consumer. Dropping it stops both.
pub(super) struct Phase {
    bootstrap: String,
    input: String,
    group: String,
    shutdown: Arc<AtomicBool>,
    processor: Option<JoinHandle<Result<(), KafkaRunError>>>,
    pub(super) watch: Arc<Watch>,
    consumer: Option<JoinHandle<Result<Vec<Sample>, KafkaError>>>,
}

impl Phase {
    pub(super) fn start(
        bootstrap: &str,
        config: &Config,
        pack: &RulePack,
        name: &str,
        sends: Option<Arc<[AtomicU64]>>,
    ) -> Result<Phase, BenchError> {
        let Topics {
            input,
            output,
            dead,
            group,
        } = Topics::create(bootstrap, name)?;
        let watch = Arc::new(Watch {
            base: Instant::now(),
            received: AtomicU64::new(0),
            last_ns: AtomicU64::new(0),
            warmed: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let topics = vec![(output.clone(), OUTPUT_PARTITIONS), (dead.clone(), 1)];
        let (client_c, watch_c) = (client(bootstrap), watch.clone());
        let consumer = std::thread::Builder::new()
            .name("bench-consumer".into())
            .spawn(move || consume(client_c, &topics, &watch_c, sends.as_deref()))
            .map_err(|source| BenchError::Io {
                what: "spawn the consumer thread".into(),
                source,
            })?;
        let mut config = config.clone();
        config.kafka.bootstrap_servers = bootstrap.to_string();
        config.kafka.input_topics = vec![input.clone()];
        config.kafka.output_topic = output;
        config.kafka.dead_letter_topic = dead;
        config.kafka.group_id = group;
        config.clock.idle_follows_wall_clock = false;
        // The generated stream's event time is synthetic: it may lie ahead of the wall clock.
        config.clock.max_future = "off".into();
        config.http.listen = String::new();
        let shutdown = Arc::new(AtomicBool::new(false));
        let (pack, flag, group) = (
            pack.clone(),
            shutdown.clone(),
            config.kafka.group_id.clone(),
        );
        let processor = std::thread::Builder::new()
            .name("bench-kafka-mode".into())
            .spawn(move || kafka::run(&config, &pack, &KafkaOptions::default(), &flag))
            .map_err(|source| BenchError::Io {
                what: "spawn the Kafka mode thread".into(),
                source,
            })?;
        let mut phase = Phase {
            bootstrap: bootstrap.to_string(),
            input,
            group,
            shutdown,
            processor: Some(processor),
            watch,
            consumer: Some(consumer),
        };
        phase.warm_up()?;
        Ok(phase)
    }

    /// One chat per input partition from a new user, an hour before the stream starts; waits
    /// until each has its tag changes out.
    fn warm_up(&mut self) -> Result<(), BenchError> {
        let ts = crate::generate::GenOptions::default().start_ms - 3_600_000;
        let lines: Vec<(String, Vec<u8>)> = (0..INPUT_PARTITIONS)
            .map(|p| {
                let user = format!("{WARMUP}{p}");
                let line = format!(
                    r#"{{"type":"chat","user_id":"{user}","ts":{ts},"event_id":"{user}","text":"大家好"}}"#
                );
                (user, line.into_bytes())
            })
            .collect();
        let msgs: Vec<Msg> = lines
            .iter()
            .enumerate()
            .map(|(p, (user, line))| Msg {
                partition: p as i32,
                key: Some(user.as_bytes()),
                payload: line,
            })
            .collect();
        self.produce(&msgs, None, None)?;
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.watch.warmed.load(Ordering::SeqCst) < INPUT_PARTITIONS as u64 {
            self.check_running()?;
            if Instant::now() > deadline {
                return Err(BenchError::Failed(
                    "Kafka mode did not answer the warm-up events within 120 s".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Produces `msgs` to the input topic (see [`produce`]). Returns the first send, the time
    /// everything was acknowledged, and the records per partition.
    pub(super) fn produce(
        &self,
        msgs: &[Msg],
        rate: Option<f64>,
        sends: Option<&[AtomicU64]>,
    ) -> Result<(Instant, Instant, BTreeMap<i32, i64>), BenchError> {
        let pace = rate.map(|rate| Pace {
            rate,
            sends,
            base: self.watch.base,
        });
        let p = produce(&self.bootstrap, &self.input, msgs, pace.as_ref())?;
        Ok((p.first, p.acked, p.counts))
    }

    /// Waits until the group committed `ends` (plus the warm-up record of each partition) and
    /// the outputs have been quiet since; allows 2 minutes plus 1 ms per event.
    pub(super) fn wait_done(
        &mut self,
        ends: &BTreeMap<i32, i64>,
        produced: Instant,
        events: u64,
    ) -> Result<(), BenchError> {
        let consumer: BaseConsumer = client(&self.bootstrap)
            .set("group.id", &self.group)
            .create()?;
        let deadline = Instant::now() + Duration::from_secs(120) + Duration::from_millis(events);
        loop {
            self.check_running()?;
            let mut tpl = TopicPartitionList::new();
            for p in ends.keys() {
                tpl.add_partition(&self.input, *p);
            }
            // (committed, wanted) per partition; wanted counts the warm-up record too.
            let progress: Vec<(i64, i64)> = consumer
                .committed_offsets(tpl, Duration::from_secs(5))
                .map(|c| {
                    c.elements()
                        .iter()
                        .map(|e| match e.offset() {
                            Offset::Offset(o) => (o, ends[&e.partition()] + 1),
                            _ => (0, ends[&e.partition()] + 1),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let done = progress.len() == ends.len() && progress.iter().all(|(at, want)| at >= want);
            let committed: i64 = progress.iter().map(|(at, want)| at.min(want)).sum();
            let quiet = self.watch.last().max(produced).elapsed() >= QUIET;
            if done && quiet {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(BenchError::Failed(format!(
                    "Kafka mode did not finish in time: {committed} of {} input records committed, {} outputs seen",
                    ends.values().sum::<i64>() + ends.len() as i64,
                    self.watch.received()
                )));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// An error, with Kafka mode's own, when its thread has already stopped.
    fn check_running(&mut self) -> Result<(), BenchError> {
        if self.processor.as_ref().is_some_and(|h| !h.is_finished()) {
            return Ok(());
        }
        let why = match self.processor.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e.to_string(),
            Some(Err(_)) => "panicked".into(),
            _ => "returned without being asked to".into(),
        };
        Err(BenchError::Failed(format!(
            "Kafka mode stopped early: {why}"
        )))
    }

    /// Drains Kafka mode and stops the consumer; returns the latencies it measured.
    pub(super) fn stop(mut self) -> Result<Vec<Sample>, BenchError> {
        self.shutdown.store(true, Ordering::SeqCst);
        let run = self.processor.take().map(JoinHandle::join);
        self.watch.stop.store(true, Ordering::SeqCst);
        let consumed = self.consumer.take().map(JoinHandle::join);
        match run {
            Some(Ok(Ok(()))) => {}
            Some(Ok(Err(e))) => return Err(BenchError::Failed(format!("Kafka mode: {e}"))),
            _ => return Err(BenchError::Failed("Kafka mode panicked".into())),
        }
        match consumed {
            Some(Ok(Ok(latencies))) => Ok(latencies),
            Some(Ok(Err(e))) => Err(e.into()),
            _ => Err(BenchError::Failed("the output consumer panicked".into())),
        }
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        self.watch.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.processor.take() {
            let _ = h.join();
        }
        if let Some(h) = self.consumer.take() {
            let _ = h.join();
        }
    }
}

/// A run's fresh topics (input, output, dead letters) and its consumer group's name.
pub(super) struct Topics {
    pub input: String,
    pub output: String,
    pub dead: String,
    pub group: String,
}

impl Topics {
    /// Names the topics of run `name` uniquely and creates them.
    pub(super) fn create(bootstrap: &str, name: &str) -> Result<Topics, BenchError> {
        let unique = unique(name);
        let topics = Topics {
            input: format!("{unique}-events"),
            output: format!("{unique}-changes"),
            dead: format!("{unique}-dead"),
            group: format!("{unique}-group"),
        };
        create_topics(
            bootstrap,
            &[
                (&topics.input, INPUT_PARTITIONS),
                (&topics.output, OUTPUT_PARTITIONS),
                (&topics.dead, 1),
            ],
        )?;
        Ok(topics)
    }
}

/// A name for one run's topics and group that no earlier run used.
fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("bench-{name}-{}-{nanos:x}", std::process::id())
}

/// The shortest sleep of a paced producer.
const PACE_TICK: Duration = Duration::from_millis(1);

/// How [`produce`] paces its sends: `rate` records per second, each send time recorded in
/// `sends` (ns after `base`, plus one so that 0 means "not sent") when given.
pub(super) struct Pace<'a> {
    pub(super) rate: f64,
    pub(super) sends: Option<&'a [AtomicU64]>,
    pub(super) base: Instant,
}

/// What [`produce`] sent.
pub(super) struct Produced {
    pub(super) first: Instant,
    /// When the broker had acknowledged every record.
    pub(super) acked: Instant,
    /// Records sent per input partition.
    pub(super) counts: BTreeMap<i32, i64>,
    /// Per input partition, the offset after the last record the broker acknowledged: what a
    /// group has committed once it has read everything (tansu 0.6 under-reports high watermarks).
    pub(super) ends: BTreeMap<i32, i64>,
}

/// Produces `msgs` to `topic` (paced when `pace` is given, else as fast as the broker takes
/// them) and waits until the broker acknowledged them all.
///
/// # Errors
/// The producer cannot be created, or a record is not delivered within 5 minutes.
pub(super) fn produce(
    bootstrap: &str,
    topic: &str,
    msgs: &[Msg],
    pace: Option<&Pace>,
) -> Result<Produced, BenchError> {
    let producer: BaseProducer<Delivery> = client(bootstrap)
        // librdkafka's default, as an upstream pipeline would run it. A shorter linger
        // sends a batch of a few records per partition every millisecond, and a broker
        // that lists every stored batch on each fetch (tansu 0.6) slows as they pile up.
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "500000")
        .create_with_context(Delivery::default())?;
    let mut counts: BTreeMap<i32, i64> = (0..INPUT_PARTITIONS).map(|p| (p, 0)).collect();
    let first = Instant::now();
    for (i, m) in msgs.iter().enumerate() {
        if let Some(pace) = pace {
            let due = first + Duration::from_secs_f64(i as f64 / pace.rate);
            let now = Instant::now();
            if due > now {
                // Sends go out in ticks of at least PACE_TICK: every record due by then in
                // one burst, each timed when it is sent. Sleeping until each record's own due
                // time (20 µs apart at 50k events/s) woke this thread tens of thousands of
                // times a second, each wake-up free to preempt the processor under measure.
                std::thread::sleep((due - now).max(PACE_TICK));
            }
            if let Some(sends) = pace.sends {
                sends[i].store(pace.base.elapsed().as_nanos() as u64 + 1, Ordering::SeqCst);
            }
        }
        let mut record = BaseRecord::to(topic)
            .payload(m.payload)
            .partition(m.partition);
        if let Some(key) = m.key {
            record = record.key(key);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    producer.poll(Duration::from_millis(10));
                    record = r;
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
        *counts.entry(m.partition).or_default() += 1;
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(300))?;
    let acked = Instant::now();
    let delivery = producer.context();
    let failed = delivery.failed.load(Ordering::SeqCst);
    if failed > 0 {
        return Err(BenchError::Failed(format!(
            "{failed} of {} records were not delivered to {topic}",
            msgs.len()
        )));
    }
    let ends = counts
        .keys()
        .map(|p| {
            let end = usize::try_from(*p)
                .ok()
                .and_then(|i| delivery.ends.get(i))
                .map_or(0, |e| e.load(Ordering::SeqCst));
            (*p, end)
        })
        .collect();
    Ok(Produced {
        first,
        acked,
        counts,
        ends,
    })
}

/// Counts failed deliveries and keeps, per input partition, the offset after the last
/// acknowledged record.
#[derive(Default)]
struct Delivery {
    failed: AtomicU64,
    ends: [AtomicI64; INPUT_PARTITIONS as usize],
}

impl ClientContext for Delivery {}

impl ProducerContext for Delivery {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(m) => {
                let end = usize::try_from(m.partition())
                    .ok()
                    .and_then(|i| self.ends.get(i));
                if let Some(end) = end {
                    end.fetch_max(m.offset() + 1, Ordering::SeqCst);
                }
            }
            Err((e, _)) => {
                tracing::debug!(error = %e, "delivery failed");
                self.failed.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

pub(super) fn create_topics(bootstrap: &str, topics: &[(&str, i32)]) -> Result<(), BenchError> {
    let admin: AdminClient<_> = client(bootstrap).create()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| BenchError::Io {
            what: "start a tokio runtime".into(),
            source,
        })?;
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(-1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in rt.block_on(admin.create_topics(&new, &options))? {
        if let Err((topic, code)) = result {
            return Err(BenchError::Failed(format!(
                "cannot create topic {topic}: {code}"
            )));
        }
    }
    Ok(())
}
