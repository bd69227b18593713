//! Kafka mode: a member of a consumer group reading behaviour events, writing tag changes and
//! dead letters, keeping per-partition state in a compacted changelog topic.
//!
//! Threads: one consumer thread (poll loop and rebalance hooks), N workers (one Rhai engine
//! each; partition `p` belongs to worker `p % N`, so a partition's records are processed in
//! offset order and partitions proceed in parallel), and one acker per worker (delivery,
//! checkpoints, offset store). Channels are bounded: a slow broker slows the consumer down
//! instead of growing memory.
//!
//! Input topics must be co-partitioned (same partition count, keyed by user id): task `p`
//! owns partition `p` of every input topic and the changelog's partition `p`.

mod intake;
mod task;
mod worker;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::ClientConfig;

use crate::config::Config;
use crate::pipeline::reload::RulesWatch;
use crate::rules::RulePack;
use crate::sink::kafka::{run_acker, KafkaSink};
use crate::source::kafka::{group_consumer, Durable, GroupContext, Router, WorkerMsg, MAX_BATCH};
use crate::source::regroup;
use intake::{admit, check_quiet, drain, holds_none, Intake};
use worker::{Worker, WorkerConfig};

#[derive(Debug, thiserror::Error)]
pub enum KafkaRunError {
    /// A configuration the cluster cannot run (exit code 2).
    #[error("{0}")]
    Config(String),
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("{0}")]
    Runtime(String),
}

/// Messages a worker's queue holds (record batches and control messages).
const WORKER_QUEUE: usize = 16;

/// Options for one run; the CLI uses the defaults.
#[derive(Debug, Clone)]
pub struct KafkaOptions {
    pub workers: usize,
    pub checkpoint_interval: Duration,
    pub checkpoint_records: u64,
    /// Hot reload: new rule sets to swap in between two records.
    pub reload: Option<RulesWatch>,
}

impl Default for KafkaOptions {
    fn default() -> Self {
        KafkaOptions {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            checkpoint_interval: Duration::from_secs(1),
            checkpoint_records: 50_000,
            reload: None,
        }
    }
}

fn client_config(config: &Config) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &config.kafka.bootstrap_servers);
    for (key, value) in &config.kafka.options {
        client.set(key, value);
    }
    client
}

/// The CLI entry: runs until SIGTERM or Ctrl-C, taking new rule sets from `reload`.
pub fn main(config: Config, pack: RulePack, reload: Option<RulesWatch>) -> ExitCode {
    let shutdown = Arc::new(AtomicBool::new(false));
    spawn_signal_listener(shutdown.clone());
    let options = KafkaOptions {
        reload,
        ..KafkaOptions::default()
    };
    match run(&config, &pack, &options, &shutdown) {
        Ok(()) => ExitCode::SUCCESS,
        Err(KafkaRunError::Config(e)) => crate::cli::usage_error(e),
        Err(e) => crate::cli::runtime_error(e),
    }
}

/// Sets `flag` on SIGTERM or Ctrl-C.
pub fn spawn_signal_listener(flag: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            #[cfg(unix)]
            {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                        .expect("SIGTERM handler installs");
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            #[cfg(not(unix))]
            let _ = tokio::signal::ctrl_c().await;
        });
        tracing::info!("shutdown requested; draining");
        flag.store(true, Ordering::SeqCst);
    });
}

/// Waits until the cluster answers and every input topic exists; returns their partition count.
fn partition_count(
    client: &ClientConfig,
    topics: &[String],
    shutdown: &AtomicBool,
) -> Result<i32, KafkaRunError> {
    let consumer: BaseConsumer = client.create()?;
    let bootstrap = client
        .get("bootstrap.servers")
        .unwrap_or_default()
        .to_string();
    let started = Instant::now();
    let mut backoff = Duration::from_millis(500);
    let mut waiting = "the cluster to answer".to_string();
    crate::metrics::waiting_for(Some(format!(
        "asking the cluster at {bootstrap} (kafka.bootstrap_servers) for the input topics"
    )));
    loop {
        if shutdown.load(Ordering::SeqCst) {
            return Err(KafkaRunError::Runtime(format!(
                "shut down while waiting for {waiting}"
            )));
        }
        // Each failure says what is wrong, and what the run waits for.
        let counts: Result<Vec<i32>, (String, String)> = topics
            .iter()
            .map(
                |topic| match consumer.fetch_metadata(Some(topic), Duration::from_secs(3)) {
                    Ok(md) => match md.topics().first() {
                        Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
                            Ok(t.partitions().len() as i32)
                        }
                        _ => Err((
                            format!(
                                "input topic {topic:?} does not exist yet (kafka.input_topics)"
                            ),
                            format!("input topic {topic:?} to exist"),
                        )),
                    },
                    Err(e) => Err((
                        format!(
                            "cluster at {bootstrap} not reachable (kafka.bootstrap_servers): {e}"
                        ),
                        format!("the cluster at {bootstrap} to answer"),
                    )),
                },
            )
            .collect();
        if counts.is_ok() {
            crate::metrics::waiting_for(None);
        }
        match counts {
            Ok(counts) if counts.windows(2).all(|w| w[0] == w[1]) => return Ok(counts[0]),
            Ok(counts) => {
                return Err(KafkaRunError::Config(format!(
                    "input topics must have the same partition count (they share per-user state): {topics:?} have {counts:?}"
                )))
            }
            Err((why, until)) => {
                tracing::warn!(
                    retry_in = ?backoff,
                    waiting_for = ?Duration::from_secs(started.elapsed().as_secs()),
                    "{why}; waiting for {until}, retrying until then or until the process is stopped"
                );
                crate::metrics::waiting_for(Some(format!(
                    "{why}; waiting for {until} ({}s so far)",
                    started.elapsed().as_secs()
                )));
                waiting = until;
                // In steps, so that a shutdown asked for meanwhile is not kept waiting.
                let until = Instant::now() + backoff;
                while Instant::now() < until && !shutdown.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Creates the changelog topic when missing and checks its partition count.
fn ensure_changelog(
    client: &ClientConfig,
    topic: &str,
    partitions: i32,
) -> Result<(), KafkaRunError> {
    let admin: AdminClient<_> = client.create()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| KafkaRunError::Runtime(e.to_string()))?;
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(-1))
        .set("cleanup.policy", "compact");
    let result = rt.block_on(admin.create_topics(
        [&new],
        &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
    ))?;
    for r in result {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, code)) => {
                return Err(KafkaRunError::Runtime(format!(
                    "cannot create changelog topic {t}: {code}"
                )))
            }
        }
    }
    let consumer: BaseConsumer = client.create()?;
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let found = md
        .topics()
        .first()
        .map_or(0, |t| t.partitions().len() as i32);
    if found != partitions {
        return Err(KafkaRunError::Config(format!(
            "changelog topic {topic:?} has {found} partitions, the input topics {partitions}; it must match"
        )));
    }
    Ok(())
}

/// Runs Kafka mode until `shutdown` is set, then drains: checkpoints every partition, waits
/// for every output and checkpoint to be acknowledged, commits, flushes.
///
/// # Errors
/// Misconfiguration (`Config`), or a client that cannot be created.
pub fn run(
    config: &Config,
    pack: &RulePack,
    options: &KafkaOptions,
    shutdown: &AtomicBool,
) -> Result<(), KafkaRunError> {
    let client = client_config(config);
    let topics = &config.kafka.input_topics;
    let option_keys: Vec<&String> = config.kafka.options.keys().collect();
    tracing::info!(bootstrap = %config.kafka.bootstrap_servers, group = %config.kafka.group_id, ?topics, options = ?option_keys, "starting Kafka mode");
    let partitions = match partition_count(&client, topics, shutdown) {
        Err(KafkaRunError::Runtime(why)) if shutdown.load(Ordering::SeqCst) => {
            tracing::info!("{why}");
            return Ok(());
        }
        other => other?,
    };
    let changelog = config.changelog_topic();
    ensure_changelog(&client, &changelog, partitions)?;

    let sink = Arc::new(KafkaSink::new(&client)?);
    let state_sink = Arc::new(KafkaSink::new(&client)?);
    let n = options.workers.max(1);
    // Records travel in batches of up to MAX_BATCH: a worker's queue holds a few thousand
    // records at most before the consumer waits (back-pressure, bounded memory).
    let (worker_txs, worker_rxs): (Vec<_>, Vec<_>) = (0..n)
        .map(|_| sync_channel::<WorkerMsg>(WORKER_QUEUE))
        .unzip();
    let router = Router::new(worker_txs);
    let durable = Durable::default();
    let consumer = Arc::new(group_consumer(
        &client,
        &config.kafka.group_id,
        router.clone(),
        durable.clone(),
    )?);
    let worker_config = WorkerConfig {
        client: client.clone(),
        output_topic: config.kafka.output_topic.as_str().into(),
        dead_letter_topic: config.kafka.dead_letter_topic.as_str().into(),
        changelog_topic: changelog.as_str().into(),
        idle_follows_wall_clock: config.clock.idle_follows_wall_clock,
        idle_after: Duration::from_millis(config.idle_after_ms().max(0) as u64),
        max_future_ms: config.max_future_ms(),
        checkpoint_interval: options.checkpoint_interval,
        checkpoint_records: options.checkpoint_records,
        max_payload: 512 * 1024,
    };
    let mut threads = Vec::new();
    for (i, rx) in worker_rxs.into_iter().enumerate() {
        let (ack_tx, ack_rx) = sync_channel(65_536);
        let (sink_a, state_a) = (sink.clone(), state_sink.clone());
        let (consumer_a, durable_a) = (consumer.clone(), durable.clone());
        threads.push(
            std::thread::Builder::new()
                .name(format!("acker-{i}"))
                .spawn(move || run_acker(durable_a, sink_a, state_a, consumer_a, ack_rx))
                .map_err(|e| KafkaRunError::Runtime(e.to_string()))?,
        );
        let (pack, wc) = (pack.clone(), worker_config.clone());
        let (sink_w, state_w) = (sink.clone(), state_sink.clone());
        threads.push(
            std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(
                    move || match Worker::new(&pack, sink_w, state_w, ack_tx, wc) {
                        Ok(worker) => worker.run(rx),
                        Err(e) => tracing::error!(error = %e, "worker cannot start"),
                    },
                )
                .map_err(|e| KafkaRunError::Runtime(e.to_string()))?,
        );
    }

    let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topic_refs)?;
    let mut intake = Intake::default();
    std::thread::scope(|scope| {
        let group = config.kafka.group_id.as_str();
        scope.spawn(|| regroup::run(&consumer, group, topics, partitions, shutdown));
        poll_loop(
            &consumer,
            &router,
            &mut intake,
            &topic_refs,
            options.reload.clone(),
            shutdown,
        );
    });
    crate::metrics::draining();

    tracing::info!("draining: leaving the group");
    // Closing runs the revoke hook with the workers still alive: every partition is
    // checkpointed, made durable and committed through the same path as a rebalance. Closing,
    // unlike an unsubscribe, also waits out a rebalance under way (which may assign partitions
    // first: they are served, then revoked the same way).
    match consumer.close_queue() {
        Ok(()) => drain(
            &consumer,
            &router,
            &mut intake,
            Duration::from_secs(60),
            |c| c.closed(),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "closing the consumer failed; unsubscribing");
            consumer.unsubscribe();
            drain(
                &consumer,
                &router,
                &mut intake,
                Duration::from_secs(60),
                holds_none,
            );
        }
    }
    router.ask_all(WorkerMsg::Shutdown);
    durable.commit(&consumer, None, true);
    for producer in [&sink, &state_sink] {
        if !producer.flush(Duration::from_secs(30)) {
            tracing::warn!("producer flush timed out");
        }
    }
    drop(router);
    drop(consumer);
    for t in threads {
        let _ = t.join();
    }
    tracing::info!("stopped");
    Ok(())
}

/// Polls until `shutdown`. After each message it takes what librdkafka already holds, without
/// waiting, and hands that to the workers as one batch each.
fn poll_loop(
    consumer: &BaseConsumer<GroupContext>,
    router: &Router,
    intake: &mut Intake,
    topics: &[&str],
    mut reload: Option<RulesWatch>,
    shutdown: &AtomicBool,
) {
    let mut last_tick = Instant::now();
    let mut last_error: Option<Instant> = None;
    while !shutdown.load(Ordering::SeqCst) {
        crate::metrics::loop_beat();
        if consumer.context().regroup.swap(false, Ordering::SeqCst) {
            // Leave and join again (see [`regroup`]); the revoke hook checkpoints and commits.
            crate::metrics::regrouping();
            consumer.unsubscribe();
            drain(
                consumer,
                router,
                intake,
                Duration::from_secs(30),
                holds_none,
            );
            if let Err(e) = consumer.subscribe(topics) {
                tracing::error!(error = %e, "joining the group again failed");
            }
        }
        if let Some(new) = reload.as_mut().and_then(RulesWatch::take_new) {
            tracing::info!(version = %new.version, "rule set handed to the workers");
            router.broadcast(|| WorkerMsg::Rules(new.clone()));
        }
        let mut wait = Duration::from_millis(100);
        for _ in 0..MAX_BATCH {
            match consumer.poll(wait) {
                Some(Ok(msg)) => {
                    // Every record routed so far runs on the old set, this one on the new.
                    if let Some(new) = reload.as_mut().and_then(RulesWatch::take_new) {
                        tracing::info!(version = %new.version, "rule set handed to the workers");
                        router.broadcast(|| WorkerMsg::Rules(new.clone()));
                    }
                    if admit(consumer, &msg) {
                        intake.route(router, &msg);
                    }
                }
                Some(Err(e)) => {
                    if last_error.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
                        tracing::warn!(error = %e, "consumer error; librdkafka retries");
                        last_error = Some(Instant::now());
                    }
                    break;
                }
                None => break,
            }
            wait = Duration::ZERO;
        }
        router.flush();
        if last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            check_quiet(consumer);
            let wall = chrono::Utc::now().timestamp_millis();
            router.broadcast(|| WorkerMsg::Tick(wall));
        }
    }
}
