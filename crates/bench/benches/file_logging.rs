//! 100 000 formatted records to a file: logwire (direct and through the queue handler),
//! log4rs, fern, and tracing-subscriber's fmt layer with tracing-appender's non-blocking
//! writer; plus the cost of a call the level filters out.
//!
//! Each iteration writes all records to a fresh file and ends with everything flushed to the
//! OS, so the peers are compared on the same work: format a line with a timestamp, level,
//! logger name and message, and write it.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use logwire_bench::{RECORDS, message};
use logwire_engine::{
    FileHandler, FileOptions, Formatter, Handler, LoggerTree, QueueHandler, QueueOptions, Style,
    level,
};
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const FMT: &str = "%(asctime)s %(levelname)s %(name)s: %(message)s";

fn logwire_tree(path: &Path, queued: bool) -> LoggerTree {
    let tree = LoggerTree::new();
    let formatter =
        Arc::new(Formatter::new(Some(FMT), None, Style::Percent, true, vec![]).unwrap());
    let file = Handler::new(FileHandler::new(path, FileOptions::default()).unwrap())
        .with_formatter(formatter);
    let handler = if queued {
        let q = QueueHandler::new(vec![Arc::new(file)], QueueOptions::default()).unwrap();
        Handler::new(q)
    } else {
        file
    };
    tree.root().add_handler(Arc::new(handler));
    tree.root().set_level(level::INFO);
    tree
}

fn log_record_to(logger: &dyn log::Log, i: u64) {
    logger.log(
        &log::Record::builder()
            .args(format_args!("{}", message(i)))
            .level(log::Level::Info)
            .target("bench.app")
            .file(Some(file!()))
            .line(Some(line!()))
            .build(),
    );
}

fn file_benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("file_100k");
    group.throughput(Throughput::Elements(RECORDS));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.warm_up_time(Duration::from_secs(1));
    let mut n = 0u64;
    let mut fresh = |name: &str| {
        n += 1;
        dir.path().join(format!("{name}-{n}.log"))
    };

    group.bench_function("logwire_direct", |b| {
        b.iter_batched(
            || logwire_tree(&fresh("lw"), false),
            |tree| {
                let log = tree.get_logger("bench.app");
                for i in 0..RECORDS {
                    log.info(message(i));
                }
                tree.shutdown();
            },
            BatchSize::PerIteration,
        )
    });

    group.bench_function("logwire_queue", |b| {
        b.iter_batched(
            || logwire_tree(&fresh("lwq"), true),
            |tree| {
                let log = tree.get_logger("bench.app");
                for i in 0..RECORDS {
                    log.info(message(i));
                }
                tree.shutdown();
            },
            BatchSize::PerIteration,
        )
    });

    group.bench_function("log4rs", |b| {
        use log4rs::append::file::FileAppender;
        use log4rs::config::{Appender, Config, Root};
        use log4rs::encode::pattern::PatternEncoder;
        b.iter_batched(
            || {
                let appender = FileAppender::builder()
                    .encoder(Box::new(PatternEncoder::new(
                        "{d(%Y-%m-%d %H:%M:%S,%3f)} {l} {t}: {m}{n}",
                    )))
                    .build(fresh("log4rs"))
                    .unwrap();
                let config = Config::builder()
                    .appender(Appender::builder().build("file", Box::new(appender)))
                    .build(
                        Root::builder()
                            .appender("file")
                            .build(log::LevelFilter::Info),
                    )
                    .unwrap();
                log4rs::Logger::new(config)
            },
            |logger| {
                for i in 0..RECORDS {
                    log_record_to(&logger, i);
                }
                log::Log::flush(&logger);
            },
            BatchSize::PerIteration,
        )
    });

    group.bench_function("fern", |b| {
        b.iter_batched(
            || {
                let (_, logger) = fern::Dispatch::new()
                    .format(|out, msg, rec| {
                        out.finish(format_args!(
                            "{} {} {}: {}",
                            humantime_now(),
                            rec.level(),
                            rec.target(),
                            msg
                        ))
                    })
                    .level(log::LevelFilter::Info)
                    .chain(fern::log_file(fresh("fern")).unwrap())
                    .into_log();
                logger
            },
            |logger| {
                for i in 0..RECORDS {
                    log_record_to(logger.as_ref(), i);
                }
                logger.flush();
            },
            BatchSize::PerIteration,
        )
    });

    group.bench_function("tracing_appender_nonblocking", |b| {
        use tracing_subscriber::layer::SubscriberExt;
        b.iter_batched(
            || {
                let file = std::fs::File::create(fresh("tracing")).unwrap();
                let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                    .lossy(false)
                    .finish(file);
                let layer = tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .with_ansi(false);
                (tracing_subscriber::registry().with(layer), guard)
            },
            |(subscriber, guard)| {
                tracing::subscriber::with_default(subscriber, || {
                    for i in 0..RECORDS {
                        tracing::info!(target: "bench.app", "{}", message(i));
                    }
                });
                drop(guard); // flushes everything written
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// A local timestamp like the others print (fern has no time formatting of its own; this is
/// what a fern user writes with a time crate).
fn humantime_now() -> impl std::fmt::Display {
    jiff::Zoned::now()
        .strftime("%Y-%m-%d %H:%M:%S,%3f")
        .to_string()
}

fn filtered_out(c: &mut Criterion) {
    let mut group = c.benchmark_group("filtered_out_call");
    let tree = LoggerTree::new();
    tree.root().set_level(level::INFO);
    let logger = tree.get_logger("bench.app");
    group.bench_function("logwire_logger_debug", |b| {
        b.iter(|| logger.debug(black_box("not written")));
    });
    group.bench_function("logwire_is_enabled_for", |b| {
        b.iter(|| black_box(&logger).is_enabled_for(black_box(level::DEBUG)));
    });
    // The `log` facade with logwire installed: the macro checks the max level that follows
    // the tree, before touching the logger or formatting arguments.
    logwire_log::LogBridge::install(tree.clone()).unwrap();
    group.bench_function("log_facade_debug_via_logwire", |b| {
        b.iter(|| log::debug!(target: "bench.app", "not written {}", black_box(1)));
    });
    group.finish();
}

criterion_group!(benches, file_benches, filtered_out);
criterion_main!(benches);
