//! Training: reproducibility, checkpoint/resume continuing the same loss curve (directly and
//! through the background thread), the trainer's commands and events, and non-finite losses.

use std::path::Path;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use candle_core::{DType, Device, Tensor};
use drummernet::config::Config;
use drummernet::model::drummernet::DrummerNet;
use drummernet::model::gradcheck::pseudo_random;
use drummernet::model::ModelConfig;
use drummernet::train::background::{spawn, TrainJob, TrainerCommand, TrainerEvent, TrainerHandle};
use drummernet::train::session::{read_loss_csv, Session};
use drummernet::train::trainer::{checkpoint_step, DataSpec, Training};

/// A tiny model (encoder 6 / decoder 2 keeps the 16-sample hop), 0.6-s items, batch 2.
fn tiny_config(seed: u64) -> Config {
    let mut cfg = Config::defaults().unwrap();
    cfg.model = ModelConfig {
        channels: 4,
        first_conv_channels: 4,
        encoder_layers: 6,
        decoder_layers: 2,
        ..cfg.model.clone()
    };
    cfg.audio.segment_seconds = 0.6;
    cfg.kit.length_seconds = 0.1;
    cfg.synth.waveform_seconds = 0.1;
    cfg.train.batch_size = 2;
    cfg.train.seed = seed;
    cfg.train.checkpoint_every = 2;
    cfg.train.keep_checkpoints = 0;
    cfg.validate().unwrap();
    cfg
}

fn data() -> DataSpec {
    DataSpec {
        procedural_kits: 2,
        ..Default::default()
    }
}

fn training(seed: u64) -> Training {
    Training::new(&tiny_config(seed), &data(), &Device::Cpu).unwrap()
}

fn params(t: &Training) -> Vec<(String, Vec<f32>)> {
    t.model_tensors()
        .into_iter()
        .map(|(n, v)| (n, v.flatten_all().unwrap().to_vec1::<f32>().unwrap()))
        .collect()
}

fn losses(t: &mut Training, steps: usize) -> Vec<f64> {
    (0..steps)
        .map(|_| {
            let r = t.step().unwrap();
            assert!(r.finite);
            r.loss
        })
        .collect()
}

fn probe_input() -> Tensor {
    (pseudo_random((1, 3_000), 9) * 0.5)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
}

fn activations(net: &DrummerNet) -> Vec<f32> {
    let x = net.pad(&probe_input()).unwrap();
    net.analyse(&x)
        .unwrap()
        .activations
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_another() {
    let (mut a, mut b, mut c) = (training(5), training(5), training(6));
    assert_eq!(params(&a), params(&b));
    assert_ne!(params(&a), params(&c));
    let (la, lb, lc) = (losses(&mut a, 2), losses(&mut b, 2), losses(&mut c, 2));
    assert_eq!(la, lb);
    assert_ne!(la, lc);
    assert_eq!(params(&a), params(&b));
    assert_eq!(a.step_count(), 2);
}

/// 6 steps straight vs 3 steps, checkpoint, a new `Training`, resume, 3 steps: the checkpoint
/// holds the parameters, Adam's moments and step, and both generators' positions, so the losses
/// and parameters are bit-identical (every op is deterministic on CPU).
#[test]
fn a_resumed_run_continues_the_same_loss_curve_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let mut straight = training(3);
    let all = losses(&mut straight, 6);

    let mut first = training(3);
    let head = losses(&mut first, 3);
    let path = dir.path().join("ck.safetensors");
    std::fs::write(&path, first.checkpoint_bytes().unwrap()).unwrap();

    // A checkpoint is also a model file.
    let loaded = DrummerNet::load(&path, &Device::Cpu).unwrap();
    assert_eq!(activations(&loaded.net), activations(first.model()));
    drop(first);

    let mut second = training(3);
    second.resume_from(&path).unwrap();
    assert_eq!(second.step_count(), 3);
    let tail = losses(&mut second, 3);
    assert_eq!([head, tail].concat(), all);
    assert_eq!(params(&second), params(&straight));
}

#[test]
fn resume_refuses_other_configurations_model_files_and_corrupt_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = training(1);
    losses(&mut t, 1);
    let ck = dir.path().join("ck.safetensors");
    std::fs::write(&ck, t.checkpoint_bytes().unwrap()).unwrap();

    let mut cfg = tiny_config(1);
    cfg.model.channels = 6;
    let mut other = Training::new(&cfg, &data(), &Device::Cpu).unwrap();
    let err = other.resume_from(&ck).unwrap_err().to_string();
    assert!(
        err.contains("ck.safetensors") && err.contains("different model configuration"),
        "{err}"
    );

    let model = dir.path().join("model.safetensors");
    drummernet::model::drummernet::save_model(
        &model,
        &t.config().model,
        &t.model_tensors(),
        &[],
        drummernet::atomic_file::Overwrite::Refuse,
    )
    .unwrap();
    let mut fresh = training(1);
    let before = params(&fresh);
    let err = fresh.resume_from(&model).unwrap_err().to_string();
    assert!(
        err.contains("model.safetensors") && err.contains("not a training checkpoint"),
        "{err}"
    );

    let bytes = std::fs::read(&ck).unwrap();
    let cut = dir.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let err = fresh.resume_from(&cut).unwrap_err().to_string();
    assert!(
        err.contains("cut.safetensors") && err.contains("truncated or corrupt"),
        "{err}"
    );
    // Failed resumes leave the training as it was.
    assert_eq!(fresh.step_count(), 0);
    assert_eq!(params(&fresh), before);
}

#[test]
fn the_per_item_draw_resynthesises_each_item_with_its_own_kit() {
    let mut cfg = tiny_config(4);
    cfg.synth.draw = drummernet::model::synthesizer::KitDraw::PerItem;
    let mut t = Training::new(&cfg, &data(), &Device::Cpu).unwrap();
    let (batch, kits) = t.next_batch_with_kits().unwrap();
    // Synthetic items carry the kit they were rendered with.
    assert_eq!(kits.len(), 2);
    assert!(kits.iter().all(Option::is_some));
    let loss = |t: &mut Training, kits: &[Option<drummernet::kit::Kit>]| {
        t.loss_with_kits(&batch, kits)
            .unwrap()
            .0
            .to_scalar::<f32>()
            .unwrap()
    };
    // The item's own kits draw nothing at random: the same loss every time.
    let own = loss(&mut t, &kits);
    assert_eq!(own, loss(&mut t, &kits));
    // Without them the synthesizer draws from the pool: another loss each draw.
    let pooled = [loss(&mut t, &[]), loss(&mut t, &[])];
    assert_ne!(pooled[0], pooled[1]);
    assert!(pooled.iter().all(|p| *p != own));
    // Swapping the two items' kits changes the loss: each item uses its own.
    if kits[0].as_ref().unwrap().name != kits[1].as_ref().unwrap().name {
        let swapped = [kits[1].clone(), kits[0].clone()];
        assert_ne!(loss(&mut t, &swapped), own);
    }
    // A run with it trains.
    let l = losses(&mut t, 2);
    assert!(l.iter().all(|v| v.is_finite()));
}

fn set_all_parameters(t: &Training, value: f32) {
    for var in t.var_map().data().lock().unwrap().values() {
        let filled = (var.as_tensor().ones_like().unwrap() * value as f64).unwrap();
        var.set(&filled).unwrap();
    }
}

#[test]
fn a_non_finite_step_skips_the_update_and_is_reported() {
    let mut t = training(2);
    let bias = t.var_map().data().lock().unwrap()["unet.last_conv.bias"].clone();
    let saved = bias.as_tensor().copy().unwrap();
    bias.set(&(saved.clone() * f64::NAN).unwrap()).unwrap();
    let before = params(&t);
    let report = t.step().unwrap();
    assert!(!report.finite, "{report:?}");
    assert_eq!((report.step, t.step_count()), (0, 0));
    // Nothing was updated (NaN != NaN, so compare the bit patterns).
    let bits = |p: Vec<(String, Vec<f32>)>| -> Vec<Vec<u32>> {
        p.into_iter()
            .map(|(_, v)| v.iter().map(|x| x.to_bits()).collect())
            .collect()
    };
    assert_eq!(bits(params(&t)), bits(before));
    bias.set(&saved).unwrap();
    let report = t.step().unwrap();
    assert!(report.finite && report.loss.is_finite());
    assert_eq!(t.step_count(), 1);
}

const WAIT: Duration = Duration::from_secs(120);

fn next(h: &TrainerHandle) -> TrainerEvent {
    match h.events.recv_timeout(WAIT) {
        Ok(e) => e,
        Err(RecvTimeoutError::Timeout) => panic!("no trainer event within {WAIT:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("trainer thread ended without an event"),
    }
}

/// Events until (and including) the first one `stop` accepts.
fn until(h: &TrainerHandle, stop: impl Fn(&TrainerEvent) -> bool) -> Vec<TrainerEvent> {
    let mut seen = Vec::new();
    loop {
        let e = next(h);
        let done = stop(&e);
        seen.push(e);
        if done {
            return seen;
        }
    }
}

fn job(root: &Path, session: &str, resume: bool, target_steps: u64, seed: u64) -> TrainJob {
    TrainJob {
        config: tiny_config(seed),
        data: data(),
        sessions_root: root.to_path_buf(),
        session: session.to_string(),
        resume,
        target_steps,
        device: Device::Cpu,
    }
}

fn steps_of(events: &[TrainerEvent]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            TrainerEvent::Step(r) => Some(r.step),
            _ => None,
        })
        .collect()
}

#[test]
fn stop_then_resume_in_the_background_logs_every_step_once_on_the_same_curve() {
    let root = tempfile::tempdir().unwrap();
    let h = spawn(job(root.path(), "run", false, 6, 4));
    let events = until(&h, |e| matches!(e, TrainerEvent::Step(r) if r.step >= 3));
    assert!(matches!(
        events[0],
        TrainerEvent::Started {
            step: 0,
            target_steps: 6,
            ..
        }
    ));
    h.control.send(TrainerCommand::Stop);
    let rest = until(&h, |e| matches!(e, TrainerEvent::Finished { .. }));
    let Some(TrainerEvent::Finished {
        step: stopped_at,
        stopped,
    }) = rest.last().cloned()
    else {
        unreachable!()
    };
    h.control.join();
    assert!(stopped_at >= 3);
    if stopped_at < 6 {
        assert!(stopped);
    }
    let session = Session::open(root.path(), "run", true).unwrap();

    // A killed run leaves rows past its last checkpoint and a half-written line behind.
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(session.loss_csv())
            .unwrap();
        writeln!(f, "{},1.0,99.0,1,1,1,1,1,1,1,1,1.0", stopped_at + 1).unwrap();
        write!(f, "{},1.0,9", stopped_at + 2).unwrap();
    }
    let h = spawn(job(root.path(), "run", true, 6, 4));
    let events = until(&h, |e| {
        matches!(e, TrainerEvent::Finished { .. } | TrainerEvent::Failed(_))
    });
    h.control.join();
    assert!(
        matches!(events[0], TrainerEvent::Started { step, .. } if step == stopped_at),
        "{:?}",
        events[0]
    );
    assert!(matches!(
        events.last(),
        Some(TrainerEvent::Finished {
            step: 6,
            stopped: false
        })
    ));
    let expected: Vec<u64> = (stopped_at + 1..=6).collect();
    assert_eq!(steps_of(&events), expected);

    let rows = read_loss_csv(&session.loss_csv()).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.step).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5, 6]
    );
    let mut straight = training(4);
    for (row, loss) in rows.iter().zip(losses(&mut straight, 6)) {
        // loss.csv keeps 6 decimals.
        assert!(
            (row.loss - loss).abs() < 1e-6,
            "step {}: {} vs {loss}",
            row.step,
            row.loss
        );
    }
    let latest =
        drummernet::model::file::load_tensor_file(&session.latest(), &Device::Cpu).unwrap();
    assert_eq!(checkpoint_step(&latest.metadata), Some(6));
    for step in [2, 4, 6] {
        assert!(session.checkpoint_path(step).exists(), "checkpoint {step}");
    }
}

#[test]
fn pause_checkpoint_resume_and_stop_produce_their_events_in_order() {
    let root = tempfile::tempdir().unwrap();
    let h = spawn(job(root.path(), "run", false, 1_000_000, 7));
    let mut log = until(&h, |e| matches!(e, TrainerEvent::Step(_)));
    h.control.send(TrainerCommand::Pause);
    log.extend(until(&h, |e| matches!(e, TrainerEvent::Paused { .. })));
    let Some(TrainerEvent::Paused { step: paused_at }) = log.last().cloned() else {
        unreachable!()
    };
    // Paused: no step happens.
    std::thread::sleep(Duration::from_millis(300));
    assert!(h.events.try_recv().is_err());
    h.control.send(TrainerCommand::Checkpoint);
    let saved = until(&h, |e| matches!(e, TrainerEvent::Checkpoint { .. }));
    assert_eq!(saved.len(), 1, "{saved:?}");
    let TrainerEvent::Checkpoint { step, path } = &saved[0] else {
        unreachable!()
    };
    assert_eq!(*step, paused_at);
    assert!(path.exists());
    h.control.send(TrainerCommand::Resume);
    let resumed = until(&h, |e| matches!(e, TrainerEvent::Step(_)));
    assert!(
        matches!(resumed[0], TrainerEvent::Resumed { step } if step == paused_at),
        "{resumed:?}"
    );
    assert_eq!(steps_of(&resumed), vec![paused_at + 1]);
    h.control.send(TrainerCommand::Stop);
    let end = until(&h, |e| matches!(e, TrainerEvent::Finished { .. }));
    h.control.join();
    let Some(TrainerEvent::Finished {
        step: last,
        stopped: true,
    }) = end.last().cloned()
    else {
        panic!("{end:?}")
    };
    // The final checkpoint is the stopping step's.
    let final_ck: Vec<u64> = end
        .iter()
        .filter_map(|e| match e {
            TrainerEvent::Checkpoint { step, .. } => Some(*step),
            _ => None,
        })
        .collect();
    assert_eq!(final_ck.last().copied(), Some(last));
    // Steps are consecutive over the whole run.
    let all: Vec<u64> = [log, resumed, end]
        .iter()
        .flat_map(|e| steps_of(e))
        .collect();
    assert_eq!(all, (1..=last).collect::<Vec<_>>());
}

#[test]
fn a_bad_setup_fails_with_a_clear_message() {
    let root = tempfile::tempdir().unwrap();
    let mut no_kits = job(root.path(), "nokits", false, 5, 0);
    no_kits.data = DataSpec::default();
    let h = spawn(no_kits);
    match next(&h) {
        TrainerEvent::Failed(msg) => assert!(msg.contains("at least one kit"), "{msg}"),
        other => panic!("{other:?}"),
    }
    h.control.join();
    let h = spawn(job(root.path(), "never-started", true, 5, 0));
    match next(&h) {
        TrainerEvent::Failed(msg) => {
            assert!(
                msg.contains("never-started") && msg.contains("cannot resume"),
                "{msg}"
            )
        }
        other => panic!("{other:?}"),
    }
    h.control.join();
}

/// A session whose latest checkpoint has NaN parameters: every step is non-finite, is reported,
/// changes nothing, and after MAX_NON_FINITE (20) in a row the run fails; the checkpoint stays.
#[test]
fn twenty_non_finite_steps_in_a_row_fail_the_run_and_keep_the_checkpoint() {
    let root = tempfile::tempdir().unwrap();
    let t = training(8);
    set_all_parameters(&t, f32::NAN);
    let session = Session::open(root.path(), "nan", false).unwrap();
    let bytes = t.checkpoint_bytes().unwrap();
    session.save_checkpoint(0, &bytes, 0).unwrap();
    drop(t);
    let h = spawn(job(root.path(), "nan", true, 100, 8));
    let events = until(&h, |e| {
        matches!(e, TrainerEvent::Finished { .. } | TrainerEvent::Failed(_))
    });
    h.control.join();
    let non_finite: Vec<bool> = events
        .iter()
        .filter_map(|e| match e {
            TrainerEvent::Step(r) => Some(r.finite),
            _ => None,
        })
        .collect();
    assert_eq!(non_finite, vec![false; 19]);
    assert_eq!(steps_of(&events), vec![0; 19]);
    match events.last() {
        Some(TrainerEvent::Failed(msg)) => {
            assert!(msg.contains("not finite for 20 steps"), "{msg}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(session.latest()).unwrap(), bytes);
    assert!(!session.loss_csv().exists());
}

#[test]
fn dropping_the_command_sender_stops_the_run_with_a_checkpoint() {
    let root = tempfile::tempdir().unwrap();
    let h = spawn(job(root.path(), "orphan", false, 1_000_000, 9));
    until(&h, |e| matches!(e, TrainerEvent::Step(_)));
    let TrainerHandle { control, events } = h;
    // (The thread is detached, not joined: the events below say when it is done.)
    drop(control);
    let step = loop {
        match events.recv_timeout(WAIT) {
            Ok(TrainerEvent::Finished { step, stopped }) => {
                assert!(stopped);
                break step;
            }
            Ok(TrainerEvent::Failed(msg)) => panic!("{msg}"),
            Ok(_) => {}
            Err(e) => panic!("{e:?}"),
        }
    };
    assert!(step < 1_000);
    let session = Session::open(root.path(), "orphan", true).unwrap();
    let latest =
        drummernet::model::file::load_tensor_file(&session.latest(), &Device::Cpu).unwrap();
    assert_eq!(checkpoint_step(&latest.metadata), Some(step));
}

#[test]
fn procedural_seed_ranges_that_overflow_are_a_config_error() {
    let mut cfg = tiny_config(0);
    cfg.train.procedural_seed_first = u64::MAX - 10;
    let err = cfg.validate().unwrap_err().to_string();
    assert!(err.contains("train.procedural_seed_first"), "{err}");
    cfg.train.procedural_seed_count = 10;
    assert!(cfg.validate().is_ok());
}
