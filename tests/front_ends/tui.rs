//! The workbench: every pane rendered from fixed data (insta snapshots), key sequences and
//! background events driving the `App` without a terminal (never its state directly), and the
//! real binary in a pseudo-terminal (tmux).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;

use drummernet::atomic_file::Overwrite;
use drummernet::audio::playback::{NoSink, SinkAnswer, Source};
use drummernet::audio::{load_mono, write_wav, WavFormat, SAMPLE_RATE};
use drummernet::config::Config;
use drummernet::midi::read_midi;
use drummernet::train::background::TrainerEvent;
use drummernet::train::trainer::StepReport;
use drummernet::transcribe::StemAnalysis;
use drummernet::tui::components::prompt::{complete_path, Mode, PromptKind};
use drummernet::tui::components::training::TrainingPhase;
use drummernet::tui::jobs::{JobEvent, TranscribedStem};
use drummernet::tui::views;
use drummernet::tui::{Action, App, AppEvent, AppOptions};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn app() -> App {
    let mut opts = AppOptions::new(Config::defaults().expect("default config"));
    opts.kit = Some("procedural:0".into());
    opts.sessions_dir = std::env::temp_dir().join("drummernet-tui-test-sessions");
    opts.bundled_model = false;
    App::new(opts, Box::new(NoSink("no output device (test)".into())))
}

/// A fixed transcription: a kick on every beat at 120 bpm, snare on 2 and 4, closed hi-hat on
/// eighths, one crash; 4 s at 1000 frames/s.
fn fixed_transcription(app: &App) -> TranscribedStem {
    let names = app.waveforms().names().to_vec();
    let frames = 4000;
    let mut act = vec![vec![0.0f32; frames]; names.len()];
    let mut hit = |k: usize, f: usize, v: f32| {
        for d in 0..12 {
            if f + d < frames {
                act[k][f + d] = v * (1.0 - d as f32 / 12.0);
            }
        }
    };
    for beat in 0..8 {
        hit(0, beat * 500, 1.0);
        if beat % 2 == 1 {
            hit(1, beat * 500, 0.8);
        }
    }
    for e in 0..16 {
        hit(2, e * 250 + 5, if e % 2 == 0 { 0.6 } else { 0.3 });
    }
    hit(9, 0, 0.9);
    TranscribedStem {
        analysis: Arc::new(StemAnalysis {
            components: names,
            activations: act,
            hop: 16,
            gain: None,
            high_band: None,
            spectrogram: None,
        }),
        model: Default::default(),
        resynthesis: vec![0.0; frames * 16],
    }
}

/// 120 training steps, as the trainer reports them.
fn fixed_steps() -> impl Iterator<Item = StepReport> {
    (1..=120).map(|s| {
        let base = 2.0 * (-(s as f64) / 40.0).exp() + 0.3;
        let wobble = 0.08 * ((s * 37 % 11) as f64 / 11.0 - 0.5);
        StepReport {
            step: s,
            loss: base + wobble,
            per_scale: vec![0.5 * base, 0.3 * base + wobble, 0.2 * base],
            finite: true,
            seconds: s as f64 * 1.5,
            items_per_second: 11.0,
        }
    })
}

/// The fixed transcription and loss, arriving as the job threads and the trainer send them.
fn loaded_app() -> App {
    let mut a = app();
    let t = fixed_transcription(&a);
    a.handle_event(AppEvent::Job(JobEvent::Loaded {
        path: PathBuf::from("demo/stem.wav"),
        samples: Arc::new(vec![0.0; t.resynthesis.len()]),
    }));
    a.handle_event(AppEvent::Job(JobEvent::Transcribed(t)));
    a.act(Action::SetThreshold(0.25));
    assert!(a.wait_idle(Duration::from_secs(10)), "picked");
    for step in fixed_steps() {
        a.handle_event(AppEvent::Trainer(TrainerEvent::Step(step)));
    }
    a.act(Action::ZoomIn);
    assert_eq!(a.roll().frames_per_column(), 32);
    a.act(Action::Say("fixed data".into()));
    a
}

fn render(app: &App, w: u16, h: u16, f: impl Fn(&mut ratatui::Frame, Rect, &App)) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    term.draw(|fr| {
        let area = fr.area();
        f(fr, area, app)
    })
    .expect("draw");
    format!("{}", term.backend())
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

// ---- snapshots -------------------------------------------------------------------------

#[test]
fn snapshot_full_screen_80x24() {
    let a = loaded_app();
    let screen = render(&a, 80, 24, |f, _, a| views::draw(f, a));
    // Real content: onsets marked, names, loss drawn, no-device note.
    assert!(screen.contains("◆") && screen.contains("KD_KD") && screen.contains("audio off"));
    insta::assert_snapshot!("full_screen_80x24", screen);
}

#[test]
fn snapshot_components_envelope_and_spectrum() {
    let mut a = loaded_app();
    let draw =
        |f: &mut ratatui::Frame, r: Rect, a: &App| views::draw_waveforms(f, r, a.waveforms());
    insta::assert_snapshot!("components_envelope", render(&a, 40, 13, draw));
    a.act(Action::Spectrum);
    insta::assert_snapshot!("components_spectrum", render(&a, 40, 13, draw));
}

#[test]
fn snapshot_piano_roll_with_playhead() {
    let mut a = loaded_app();
    a.act(Action::SeekTo(0.75));
    let s = render(&a, 70, 13, |f, r, a| {
        views::draw_piano_roll(f, r, a.roll(), a.stem())
    });
    insta::assert_snapshot!("piano_roll", s);
}

#[test]
fn snapshot_loss_total_and_per_scale_log() {
    let mut a = loaded_app();
    let draw = |f: &mut ratatui::Frame, r: Rect, a: &App| views::draw_loss(f, r, a.loss());
    insta::assert_snapshot!("loss_total", render(&a, 60, 12, draw));
    a.act(Action::LossScales);
    a.act(Action::LossLog);
    insta::assert_snapshot!("loss_per_scale_log", render(&a, 60, 12, draw));
}

#[test]
fn snapshot_transport_and_help() {
    let mut a = loaded_app();
    a.act(Action::SeekTo(1.5));
    a.act(Action::ToggleAb);
    assert_eq!(a.stem().transport().source(), Source::Resynthesis);
    // The help below shows the status line's end: the fixed message, not the A/B note.
    a.act(Action::Say("fixed data".into()));
    insta::assert_snapshot!(
        "transport",
        render(&a, 40, 9, |f, r, a| {
            views::draw_transport(f, r, a.stem(), a.roll(), a.training())
        })
    );
    a.handle_key(key('?'));
    insta::assert_snapshot!("help", render(&a, 80, 24, |f, _, a| views::draw(f, a)));
}

#[test]
fn snapshot_transport_shows_underruns_and_a_lost_device() {
    let mut a = loaded_app();
    // The sound card's news, as its thread sends it: opened, two underruns, then gone.
    a.handle_event(AppEvent::Sink(SinkAnswer::Ready("48000 Hz, 2 ch".into())));
    a.handle_event(AppEvent::Sink(SinkAnswer::Underrun(2)));
    a.act(Action::SeekTo(1.5));
    a.act(Action::PlayPause);
    assert!(a.stem().transport().is_playing());
    let draw = |f: &mut ratatui::Frame, r: Rect, a: &App| {
        views::draw_transport(f, r, a.stem(), a.roll(), a.training())
    };
    insta::assert_snapshot!("transport_underruns", render(&a, 40, 9, draw));
    a.handle_event(AppEvent::Sink(SinkAnswer::Lost(
        "Device disconnected".into(),
    )));
    assert!(!a.stem().transport().is_playing(), "nothing plays any more");
    assert!(a.status().is_error());
    assert_eq!(
        a.status().message(),
        "audio device lost: Device disconnected; playback stopped"
    );
    insta::assert_snapshot!("transport_device_lost", render(&a, 40, 9, draw));
    // Play now says there is no device instead of pretending.
    a.act(Action::PlayPause);
    assert_eq!(
        a.status().message(),
        "no audio device: the playhead does not move"
    );
}

// ---- keys ------------------------------------------------------------------------------

/// The first 3 s of the bundled demo stem, in a temp folder.
fn short_stem(dir: &Path) -> PathBuf {
    let demo = root().join("assets/demo/demo_drums.wav");
    let x = load_mono(&demo, SAMPLE_RATE).expect("demo stem decodes");
    let p = dir.join("stem.wav");
    write_wav(
        &p,
        &x[..3 * SAMPLE_RATE as usize],
        SAMPLE_RATE,
        WavFormat::Float32,
        Overwrite::Refuse,
    )
    .expect("write stem");
    p
}

#[test]
fn keys_open_transcribe_ab_zoom_threshold_export_quit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stem = short_stem(dir.path());
    let mut a = app();
    // o, type the path, Enter.
    a.handle_key(key('o'));
    assert!(matches!(a.overlay().mode(), Mode::Prompt(p) if p.kind == PromptKind::Open));
    for c in stem.display().to_string().chars() {
        a.handle_key(key(c));
    }
    a.handle_key(code(KeyCode::Enter));
    assert!(a.wait_idle(Duration::from_secs(20)), "open finished");
    assert_eq!(a.stem().samples().map(|s| s.len()), Some(48_000));
    assert!((a.stem().transport().length_seconds() - 3.0).abs() < 1e-9);

    a.handle_key(key('r'));
    assert!(a.is_busy());
    assert!(
        a.wait_idle(Duration::from_secs(60)),
        "transcription finished"
    );
    let t = a.stem().transcription().expect("transcribed");
    assert_eq!(t.analysis.activations.len(), 11);
    assert_eq!(t.analysis.activations[0].len(), 3000);
    assert_eq!(t.resynthesis.len(), 48_000);
    let onsets = |a: &App| a.roll().onsets().iter().map(Vec::len).sum::<usize>();
    let n = onsets(&a);
    assert!(n > 0, "some onsets");

    // A/B at the same position.
    a.act(Action::SeekTo(1.25));
    a.handle_key(key('b'));
    let transport = |a: &App| {
        (
            a.stem().transport().source(),
            a.stem().transport().position_seconds(),
        )
    };
    assert_eq!(transport(&a).0, Source::Resynthesis);
    assert!((transport(&a).1 - 1.25).abs() < 1e-9);
    a.handle_key(key('b'));
    assert_eq!(transport(&a).0, Source::Original);

    // Zoom and scroll.
    let z = a.roll().frames_per_column();
    a.handle_key(key('+'));
    assert_eq!(a.roll().frames_per_column(), z / 2);
    a.handle_key(key('-'));
    a.handle_key(key('-'));
    assert_eq!(a.roll().frames_per_column(), z * 2);
    a.handle_key(key('l'));
    assert_eq!(a.roll().first_frame(), z * 2 * 8);
    a.handle_key(key('0'));
    assert_eq!(a.roll().first_frame(), 0);

    // A higher threshold never adds onsets; a lower one never removes them.
    a.handle_key(key('.'));
    assert!(a.wait_idle(Duration::from_secs(10)), "picked");
    assert!((a.roll().threshold() - 0.30).abs() < 1e-12);
    assert!(onsets(&a) <= n);
    a.handle_key(key(','));
    a.handle_key(key(','));
    assert!(a.wait_idle(Duration::from_secs(10)), "picked");
    assert!((a.roll().threshold() - 0.20).abs() < 1e-12);
    assert!(onsets(&a) >= n);

    // Export: the prompt proposes stem.mid; Enter confirms.
    a.handle_key(key('e'));
    let expected = stem.with_extension("mid");
    assert!(
        matches!(a.overlay().mode(), Mode::Prompt(p) if p.kind == PromptKind::ExportMidi && Path::new(&p.text) == expected)
    );
    a.handle_key(code(KeyCode::Enter));
    assert!(read_midi(&expected).is_ok(), "exported MIDI parses");
    // A second export to the same path asks first: Esc keeps the file, Enter replaces it.
    let first = std::fs::read(&expected).expect("exported");
    a.act(Action::SetThreshold(0.9));
    assert!(a.wait_idle(Duration::from_secs(10)), "picked");
    a.handle_key(key('e'));
    a.handle_key(code(KeyCode::Enter));
    assert!(
        matches!(a.overlay().mode(), Mode::Prompt(p) if p.kind == PromptKind::ReplaceExport),
        "{:?}",
        a.overlay().mode()
    );
    a.handle_key(code(KeyCode::Esc));
    assert_eq!(std::fs::read(&expected).expect("kept"), first);
    a.handle_key(key('e'));
    a.handle_key(code(KeyCode::Enter));
    a.handle_key(code(KeyCode::Enter));
    assert_eq!(
        a.overlay().mode(),
        &Mode::Normal,
        "{}",
        a.status().message()
    );
    assert_ne!(std::fs::read(&expected).expect("replaced"), first);
    a.act(Action::SetThreshold(0.2));
    assert!(a.wait_idle(Duration::from_secs(10)), "picked");
    a.handle_key(key('e'));
    a.handle_key(code(KeyCode::Enter));
    a.handle_key(code(KeyCode::Enter));
    let notes = read_midi(&expected).expect("exported MIDI parses");
    assert_eq!(notes.len(), onsets(&a), "{}", a.status().message());
    assert!(notes.iter().all(|n| n.channel == 9 && n.velocity >= 1));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(stem.with_extension("json")).expect("json written"))
            .expect("json parses");
    assert_eq!(json["events"].as_array().map(Vec::len), Some(notes.len()));

    // Re-synthesis WAV on request, then help and quit.
    a.handle_key(key('w'));
    a.handle_key(code(KeyCode::Enter));
    let resynth = load_mono(&stem.with_extension("resynth.wav"), SAMPLE_RATE).expect("wav");
    assert_eq!(resynth.len(), 48_000);
    a.handle_key(key('?'));
    assert_eq!(a.overlay().mode(), &Mode::Help);
    a.handle_key(key('x'));
    assert_eq!(a.overlay().mode(), &Mode::Normal);
    a.handle_key(key('q'));
    assert!(a.should_quit());
}

/// The workbench's export and `drummernet transcribe` write the same JSON for the same stem,
/// model and settings: one pipeline, one writer.
#[test]
fn the_workbench_exports_what_the_cli_writes() {
    let model = root().join("assets/model/default.safetensors");
    if !model.is_file() {
        eprintln!("skipped: the bundled model is missing");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let stem = short_stem(dir.path());
    let mut opts = AppOptions::new(Config::defaults().expect("default config"));
    opts.kit = Some("procedural:0".into());
    opts.model = Some(model.clone());
    let mut a = App::new(opts, Box::new(NoSink("no output device (test)".into())));
    a.act(Action::OpenPath(stem.clone()));
    assert!(a.wait_idle(Duration::from_secs(20)), "open finished");
    a.act(Action::Transcribe);
    assert!(a.wait_idle(Duration::from_secs(60)), "transcribed");
    let exported = dir.path().join("workbench.mid");
    a.export(&exported, Overwrite::Refuse).expect("export");
    let cli_dir = dir.path().join("cli");
    assert_cmd::Command::cargo_bin("drummernet")
        .expect("binary")
        .args(["transcribe", "--format", "mid,json", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(&cli_dir)
        .arg(&stem)
        .assert()
        .success();
    let json = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).expect("written")).expect("parses")
    };
    let (ours, theirs) = (
        json(&exported.with_extension("json")),
        json(&cli_dir.join("stem.json")),
    );
    assert!(ours["events"].as_array().is_some_and(|e| !e.is_empty()));
    assert_eq!(ours, theirs);
    assert_eq!(
        std::fs::read(&exported).expect("mid"),
        std::fs::read(cli_dir.join("stem.mid")).expect("mid")
    );
}

#[test]
fn keys_without_a_stem_report_instead_of_failing() {
    let mut a = app();
    a.handle_key(key('r'));
    assert!(a.status().is_error() && a.status().message().contains("open a file"));
    a.handle_key(key('e'));
    assert_eq!(a.overlay().mode(), &Mode::Normal);
    a.handle_key(key(' '));
    assert!(!a.stem().transport().is_playing());
    a.handle_key(key('o'));
    for c in "/no/such/file.wav".chars() {
        a.handle_key(key(c));
    }
    a.handle_key(code(KeyCode::Enter));
    assert!(
        a.status().is_error() && a.status().message().contains("no such file"),
        "{}",
        a.status().message()
    );
    // Esc cancels a prompt.
    a.handle_key(key('o'));
    a.handle_key(code(KeyCode::Esc));
    assert_eq!(a.overlay().mode(), &Mode::Normal);
}

#[test]
fn tab_completes_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("groove_a.wav"), b"x").expect("write");
    std::fs::write(dir.path().join("groove_b.wav"), b"x").expect("write");
    std::fs::write(dir.path().join("notes.txt"), b"x").expect("write");
    std::fs::create_dir(dir.path().join("gx")).expect("mkdir");
    let base = format!("{}/", dir.path().display());
    let (t, hint) = complete_path(&format!("{base}gr"));
    assert_eq!(t, format!("{base}groove_"));
    assert!(hint.contains("groove_a.wav") && hint.contains("groove_b.wav"));
    let (t, _) = complete_path(&format!("{base}n"));
    assert_eq!(t, format!("{base}n"), "non-audio files are not offered");
    let (t, _) = complete_path(&format!("{base}gx"));
    assert_eq!(t, format!("{base}gx/"));
}

// ---- end to end in a pseudo-terminal ----------------------------------------------------

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "wb"])
    }

    fn wait_for(&self, text: &str, secs: u64) -> String {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if s.contains(text) || Instant::now() > end {
                return s;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn keys(&self, k: &str) {
        self.run(&["send-keys", "-t", "wb", k]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

#[test]
fn end_to_end_in_tmux_open_transcribe_ab_export_adapt_quit() {
    if std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_err()
    {
        println!("skipped: tmux not found");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let stem = short_stem(dir.path());
    let rc = dir.path().join("rc");
    let cmd = format!(
        "cd '{}' && '{}' tui '{}' --sessions-dir '{}' --log '{}' --set adapt.steps=3; echo $? > '{}'",
        root().display(),
        env!("CARGO_BIN_EXE_drummernet"),
        stem.display(),
        dir.path().join("sessions").display(),
        dir.path().join("log").display(),
        rc.display()
    );
    let tmux = Tmux {
        socket: format!("drummernet-test-{}", std::process::id()),
    };
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "wb",
        "-x",
        "120",
        "-y",
        "30",
        &cmd,
    ]);
    let s = tmux.wait_for("opened", 30);
    assert!(s.contains("opened"), "screen:\n{s}");
    tmux.keys("r");
    let s = tmux.wait_for("onsets at threshold", 120);
    assert!(
        s.contains("transcribed in") && s.contains("◆"),
        "screen:\n{s}"
    );
    tmux.keys("b");
    let s = tmux.wait_for("playing B", 10);
    assert!(s.contains("playing B"), "screen:\n{s}");
    tmux.keys("e");
    let s = tmux.wait_for("Export MIDI", 10);
    assert!(s.contains("stem.mid"), "screen:\n{s}");
    tmux.keys("Enter");
    let s = tmux.wait_for("exported", 10);
    assert!(s.contains("exported"), "screen:\n{s}");
    // Learn the recording: the components pane then shows the adapted kit.
    tmux.keys("a");
    let s = tmux.wait_for("· adapted", 60);
    assert!(s.contains("· adapted"), "screen:\n{s}");
    tmux.keys("q");
    let end = Instant::now() + Duration::from_secs(20);
    while !rc.exists() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    let code = std::fs::read_to_string(&rc).expect("the workbench exited");
    assert_eq!(code.trim(), "0");
    let notes = read_midi(&stem.with_extension("mid")).expect("MIDI parses");
    assert!(!notes.is_empty());
}

// ---- training from the workbench ---------------------------------------------------------

fn pump_until(a: &mut App, secs: u64, done: impl Fn(&App) -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        a.pump_for(Duration::from_millis(10));
        if done(a) {
            return true;
        }
    }
    false
}

#[test]
fn training_starts_pauses_resumes_and_stops_from_keys_then_reopens_as_a_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = Config::defaults().expect("default config");
    cfg.train.batch_size = 1;
    cfg.train.waveforms_every = 1;
    let mut opts = AppOptions::new(cfg.clone());
    opts.kit = Some("procedural:0".into());
    opts.sessions_dir = dir.path().to_path_buf();
    opts.session = Some("keys".into());
    let mut a = App::new(opts.clone(), Box::new(NoSink("test".into())));
    a.handle_key(key('t'));
    assert!(
        pump_until(&mut a, 60, |a| a.loss().history().len() >= 2),
        "two steps arrive: {}",
        a.status().message()
    );
    assert!(a.waveforms().origin().starts_with("learned"));
    a.handle_key(key('p'));
    assert!(pump_until(&mut a, 30, |a| a.training().phase()
        == TrainingPhase::Paused));
    let at = a.training().step();
    std::thread::sleep(Duration::from_millis(300));
    a.pump();
    assert_eq!(a.training().step(), at, "no steps while paused");
    a.handle_key(key('p'));
    assert!(pump_until(&mut a, 30, |a| a.training().step() > at));
    a.handle_key(key('x'));
    assert!(pump_until(&mut a, 60, |a| a.training().phase()
        == TrainingPhase::Finished));
    let steps = a.loss().history().len();
    // Reopening the session shows its loss curve from loss.csv and uses its checkpoint.
    let b = App::new(opts, Box::new(NoSink("test".into())));
    assert_eq!(b.loss().history().len(), steps);
    assert_eq!(
        b.training().model(),
        Some(dir.path().join("keys/latest.safetensors").as_path())
    );
}

#[test]
fn adapting_the_open_stem_shows_the_learned_kit_and_transcribes_with_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stem = short_stem(dir.path());
    let mut cfg = Config::defaults().expect("default config");
    cfg.adapt.steps = 5;
    cfg.adapt.batch_size = 2;
    let mut opts = AppOptions::new(cfg);
    opts.kit = Some("procedural:0".into());
    opts.sessions_dir = dir.path().join("sessions");
    opts.model = Some(root().join("assets/model/default.safetensors"));
    let mut a = App::new(opts, Box::new(NoSink("no output device (test)".into())));
    // Without a stem: a message, no job.
    a.handle_key(key('a'));
    assert!(!a.is_busy());
    a.act(Action::OpenPath(stem));
    assert!(a.wait_idle(Duration::from_secs(20)), "open finished");
    let before = a.waveforms().waveforms().to_vec();
    a.handle_key(key('a'));
    assert!(a.is_busy());
    assert!(a.wait_idle(Duration::from_secs(120)), "adaptation finished");
    assert_eq!(a.waveforms().origin(), "adapted to the stem, step 5");
    assert_ne!(a.waveforms().waveforms(), before.as_slice());
    let t = a
        .stem()
        .transcription()
        .expect("transcribed by the adapted copy");
    assert!(
        t.model.path.ends_with("(adapted to the stem)"),
        "{}",
        t.model.path
    );
    assert_eq!(t.resynthesis.len(), 48_000);
    assert!(a.roll().onsets().iter().map(Vec::len).sum::<usize>() > 0);
    let draw =
        |f: &mut ratatui::Frame, r: Rect, a: &App| views::draw_waveforms(f, r, a.waveforms());
    let pane = render(&a, 60, 13, draw);
    assert!(pane.contains("adapted to the stem, step 5"), "{pane}");
}
