//! From the consumer to the workers: polled messages become [`InputRecord`]s, the start of a
//! resumed partition is checked, and the consumer is drained when it leaves the group.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::Offset;

use crate::source::kafka::{GroupContext, InputRecord, Router};
use crate::source::resume::Verdict;

/// Turns polled messages into [`InputRecord`]s, sharing one name per topic.
#[derive(Default)]
pub(super) struct Intake {
    topics: Vec<Arc<str>>,
}

impl Intake {
    pub(super) fn route(&mut self, router: &Router, msg: &rdkafka::message::BorrowedMessage<'_>) {
        let name = msg.topic();
        let topic = match self.topics.iter().find(|t| &***t == name) {
            Some(t) => t.clone(),
            None => {
                let t: Arc<str> = name.into();
                self.topics.push(t.clone());
                t
            }
        };
        router.push(InputRecord::new(
            topic,
            msg.partition(),
            msg.offset(),
            msg.key(),
            msg.payload().unwrap_or_default(),
        ));
    }
}

/// Whether a fetched record goes to its worker: the start of a resumed partition is checked
/// first ([`crate::source::resume::Resume`]), and a broker that skipped records is sent back.
pub(super) fn admit(
    consumer: &BaseConsumer<GroupContext>,
    msg: &rdkafka::message::BorrowedMessage<'_>,
) -> bool {
    let context = consumer.context();
    if !context.resuming.load(Ordering::Relaxed) {
        return true;
    }
    let verdict = {
        let mut resume = context.resume.lock().unwrap_or_else(|e| e.into_inner());
        let verdict = resume.check(msg.topic(), msg.partition(), msg.offset(), Instant::now());
        context
            .resuming
            .store(!resume.is_empty(), Ordering::Relaxed);
        verdict
    };
    match verdict {
        Verdict::Deliver => true,
        Verdict::Skip => false,
        Verdict::SeekBack(to) => {
            seek(consumer, msg.topic(), msg.partition(), to);
            false
        }
    }
}

pub(super) fn seek(consumer: &BaseConsumer<GroupContext>, topic: &str, partition: i32, to: Offset) {
    if let Err(e) = consumer.seek(topic, partition, to, Duration::from_secs(5)) {
        tracing::warn!(topic, partition, error = %e, "seek back failed; the partition resumes where the broker started");
    }
}

/// Seeks back the resumed partitions that stayed silent (see [`crate::source::resume::Resume::quiet`]).
pub(super) fn check_quiet(consumer: &BaseConsumer<GroupContext>) {
    let context = consumer.context();
    if !context.resuming.load(Ordering::Relaxed) {
        return;
    }
    let seeks = context
        .resume
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .quiet(Instant::now());
    for (topic, partition, to) in seeks {
        seek(consumer, &topic, partition, to);
    }
}

pub(super) fn holds_none(consumer: &BaseConsumer<GroupContext>) -> bool {
    consumer.assignment().is_ok_and(|a| a.count() == 0)
}

/// After an unsubscribe or close: polls (serving the rebalance hooks, routing what is still
/// delivered) until `done`, for at most `limit`.
pub(super) fn drain(
    consumer: &BaseConsumer<GroupContext>,
    router: &Router,
    intake: &mut Intake,
    limit: Duration,
    done: impl Fn(&BaseConsumer<GroupContext>) -> bool,
) {
    let deadline = Instant::now() + limit;
    while !done(consumer) && Instant::now() < deadline {
        if let Some(Ok(msg)) = consumer.poll(Duration::from_millis(100)) {
            if admit(consumer, &msg) {
                intake.route(router, &msg);
            }
        }
        router.flush();
    }
}
