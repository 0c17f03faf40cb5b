//! The workbench's player through a real sound server: a private PulseAudio daemon with a null
//! sink, ALSA's default device pointed at it through the `pulse` plugin (so cpal's default
//! device reaches it), and the sink's monitor recorded with `parecord`. The recording must be
//! the stem; A/B switches at the same position without a gap or a click; pause, seek and stop
//! do what they say; killing the server mid-play is reported, and the player drops cleanly.
//!
//! cpal reads ALSA's configuration when it first opens a device, so the player runs in a child
//! process (this test binary again, running only this test) whose environment names the
//! private server before anything audio starts. Skips, saying why, where the programs or the
//! ALSA plugin are missing or the server does not start.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use drummernet::audio::playback::{CpalSink, Player, SinkAnswer, Source, Tracks};
use drummernet::groove::{generate_performance, normalize_peak, render, GrooveSettings};
use drummernet::kit::procedural::procedural_kit;

const CHILD: &str = "DRUMMERNET_PLAYBACK_CHILD";
const TEST_NAME: &str = "playback::the_player_through_a_real_pulseaudio_server";
/// The null sink's rate: cpal picks 48 kHz where the device allows any rate, and recording at
/// the sink's rate keeps PulseAudio from resampling anything.
const RATE: usize = 48_000;
/// Device frames per 16 kHz sample.
const UP: usize = RATE / 16_000;
const SWITCH_AT: f64 = 2.0;
const PAUSE_AT: f64 = 3.0;
const SEEK_TO: f64 = 1.0;

/// A (the stem) and B (its "re-synthesis": the same groove on another kit, upside down so that
/// the two differ most where both sound, which is where a switch without a crossfade clicks),
/// 16 kHz.
fn signals() -> (Vec<f32>, Vec<f32>) {
    let p = generate_performance(
        5,
        5.0,
        &GrooveSettings {
            bpm_min: 110.0,
            bpm_max: 110.0,
            ..GrooveSettings::default()
        },
    );
    let one = |seed| {
        let mut x = render(&p.notes, &procedural_kit(seed, 8000), 16_000, p.seconds);
        normalize_peak(&mut x, 0.5);
        x
    };
    (one(1), one(2).iter().map(|v| -v).collect())
}

/// What the mixer sends at 48 kHz: the 16 kHz signal linearly interpolated.
fn at_device_rate(x: &[f32]) -> Vec<f32> {
    (0..x.len() * UP)
        .map(|k| {
            let (i, f) = (k / UP, (k % UP) as f32 / UP as f32);
            let a = x[i];
            let b = x.get(i + 1).copied().unwrap_or(0.0);
            a + (b - a) * f
        })
        .collect()
}

/// What one run of the child through the server gave.
struct Run {
    rec: Vec<f32>,
    switch: f64,
    paused: (f64, f64),
    stopped: (f64, bool),
    underruns: usize,
    lost: String,
    playing_after_loss: bool,
    closed: bool,
    exited: bool,
}

/// Attempts at a run without underruns: a loaded machine (CI runs tests in parallel) can starve
/// the player, and a recording with gaps cannot show the stem as it is.
const ATTEMPTS: usize = 3;

#[test]
fn the_player_through_a_real_pulseaudio_server() {
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    let mut last = None;
    for attempt in 1..=ATTEMPTS {
        let Some(run) = run_once() else {
            return;
        };
        // Loss and shutdown are judged on every run, underruns or not.
        assert!(run.lost.starts_with("lost "), "{}", run.lost);
        assert!(!run.playing_after_loss, "still playing after the loss");
        assert!(run.closed, "the dead stream was not closed within 5 s");
        assert!(run.exited, "the player process did not exit after the loss");
        println!("loss: {}", run.lost);
        if run.underruns == 0 {
            // A dropout the player never hears of (PulseAudio plays silence for a late client
            // without telling it) fails one run; a fault of the player fails them all.
            match check_playback(&run) {
                Ok(()) => return,
                Err(e) if attempt < ATTEMPTS => {
                    println!("attempt {attempt} failed, trying again: {e}");
                    continue;
                }
                Err(e) => panic!("{e}"),
            }
        }
        println!(
            "attempt {attempt}: the player reported underruns {} times (a loaded machine); trying again",
            run.underruns
        );
        last = Some(run);
    }
    let Some(run) = last else { return };
    println!(
        "skipped the fidelity checks: the player underran on all {ATTEMPTS} attempts ({} \
         underrun reports on the last run; that they were reported is what was checked)",
        run.underruns
    );
}

/// Starts a server, records its monitor while the child plays, kills the server mid-play.
/// `None`: skipped (said why).
fn run_once() -> Option<Run> {
    let mut server = Server::start()?;
    let rec_path = server.dir.path().join("monitor.raw");
    let mut recorder = Killed(
        Command::new("parecord")
            .arg(format!("--server={}", server.address))
            .args([
                "--device=out.monitor",
                "--raw",
                "--format=float32le",
                "--channels=1",
                "--latency-msec=20",
            ])
            .arg(format!("--rate={RATE}"))
            .stdout(std::fs::File::create(&rec_path).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("parecord starts"),
    );
    std::thread::sleep(Duration::from_millis(300));
    let asound = server.dir.path().join("asound.conf");
    std::fs::write(
        &asound,
        format!(
            "pcm.!default {{ type pulse server \"{0}\" }}\nctl.!default {{ type pulse server \"{0}\" }}\n",
            server.address
        ),
    )
    .unwrap();
    let mut player = Killed(
        Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .env("ALSA_CONFIG_PATH", &asound)
            .env("PULSE_SERVER", &server.address)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the test binary starts again"),
    );
    let (tx, lines) = mpsc::channel::<String>();
    let stdout = player.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // The harness may print its own words ahead on the same line.
            if let Some((_, l)) = line.split_once('@') {
                let _ = tx.send(l.to_string());
            }
        }
    });
    let mut said: Vec<String> = Vec::new();
    let mut wait_for = |prefix: &str, secs: u64| -> String {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(l) = said.iter().find(|l| l.starts_with(prefix)) {
                return l.clone();
            }
            let left = end.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(l) => said.push(l),
                Err(_) => panic!("the player never said `{prefix}`; it said {said:?}"),
            }
        }
    };
    let device = wait_for("device", 20);
    if let Some(why) = device.strip_prefix("device unavailable ") {
        println!("skipped: the player found no device through the pulse plugin: {why}");
        return None;
    }
    println!("player: {device}");
    let switch: f64 = value(&wait_for("switch", 20));
    let paused = two(&wait_for("pause", 20));
    let stopped = two(&wait_for("stopped", 20));
    wait_for("kill-me", 20);
    // Recording over; then the server goes away under the playing stream.
    recorder.stop();
    server.kill();
    let lost = wait_for("lost", 20);
    let playing_after_loss: bool = value(&wait_for("playing", 5));
    let closed: bool = value(&wait_for("closed", 10));
    wait_for("dropped", 10);
    let exited = player.wait(Duration::from_secs(10));
    let underruns = said
        .iter()
        .filter(|l| l.starts_with("note Underrun"))
        .count();
    let rec = read_f32(&rec_path);
    if let Some(keep) = std::env::var_os("DRUMMERNET_PLAYBACK_KEEP") {
        // For a look at what came out (e.g. with sox or Audacity: raw f32, 48 kHz, mono).
        let _ = std::fs::copy(&rec_path, keep);
    }
    Some(Run {
        rec,
        switch,
        paused,
        stopped,
        underruns,
        lost,
        playing_after_loss,
        closed,
        exited,
    })
}

/// Returns with the failed check's message unless `$ok`.
macro_rules! ensure {
    ($ok:expr, $($why:tt)+) => {
        let ok: bool = $ok;
        if !ok {
            return Err(format!($($why)+));
        }
    };
}

/// The recording against what the player was asked to play.
fn check_playback(run: &Run) -> Result<(), String> {
    let (a, b) = signals();
    let (a48, b48) = (at_device_rate(&a), at_device_rate(&b));
    let switch = run.switch;
    let report = analyse(&run.rec, &a48, &b48, switch)?;
    println!("{report:#?}");
    // The stem, as it is.
    ensure!(report.stem_correlation >= 0.99, "stem: {report:?}");
    // A/B: B carries on at A's position, at the position asked for (within a device buffer).
    ensure!(report.switch_correlation >= 0.99, "switch: {report:?}");
    ensure!(report.switch_max_error < 0.01, "switch: {report:?}");
    ensure!(
        (0.0..0.1).contains(&(report.switch_seconds - switch)),
        "switched at {} s, asked at {switch} s",
        report.switch_seconds
    );
    ensure!(
        report.switch_max_step <= report.click_bound,
        "click: {report:?}"
    );
    // ... a bound that a switch without the crossfade would break.
    ensure!(
        report.hard_switch_step > 1.5 * report.click_bound,
        "no test of the click bound here: {report:?}"
    );
    // Pause holds the position and the output is silent from there.
    let (paused, paused_later) = run.paused;
    ensure!(
        paused == paused_later,
        "the playhead moved while paused: {paused} then {paused_later}"
    );
    ensure!(
        (PAUSE_AT..PAUSE_AT + 0.1).contains(&paused),
        "paused at {paused}"
    );
    ensure!(
        (report.silence_from_seconds - paused).abs() < 0.005,
        "silence: {report:?} vs paused at {paused}"
    );
    ensure!(report.pause_seconds >= 0.5, "pause: {report:?}");
    // Seek resumes exactly at the position asked for; stop rewinds to the start.
    ensure!(report.seek_correlation >= 0.99, "seek: {report:?}");
    ensure!(
        report.seek_offset_samples.abs() <= UP as i64,
        "seek: {report:?}"
    );
    ensure!(run.stopped == (0.0, false), "after stop: {:?}", run.stopped);
    ensure!(report.restart_correlation >= 0.99, "restart: {report:?}");
    ensure!(
        report.restart_offset_samples.abs() <= UP as i64,
        "restart: {report:?}"
    );
    Ok(())
}

// ---- the child: drives the player --------------------------------------------------------

fn child() {
    let (mut player, answers) = Player::start(Box::new(CpalSink));
    let end = Instant::now() + Duration::from_secs(10);
    while !player.has_device() {
        match answers.recv_timeout(end.saturating_duration_since(Instant::now())) {
            Ok(SinkAnswer::Unavailable(why)) => {
                println!("@device unavailable {why}");
                return;
            }
            Ok(a) => player.answer(a),
            Err(_) => {
                println!("@device unavailable no answer in 10 s");
                return;
            }
        }
    }
    println!("@device {:?}", player.device());
    let (a, b) = signals();
    let t = player.transport.clone();
    t.set_tracks(Tracks {
        original: a,
        resynthesis: b,
    });
    // Waits for the playhead to reach `s`, taking in what the sound card says meanwhile.
    let mut until = |s: f64| {
        let end = Instant::now() + Duration::from_secs(15);
        while t.position_seconds() < s && Instant::now() < end {
            while let Ok(a) = answers.try_recv() {
                if matches!(a, SinkAnswer::Underrun(_) | SinkAnswer::Lost(_)) {
                    println!("@note {a:?} at {:.3} s", t.position_seconds());
                }
                player.answer(a);
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        if t.position_seconds() < s {
            println!("@stuck at {:.3} s, waiting for {s} s", t.position_seconds());
        }
    };
    t.set_source(Source::Original);
    t.seek_seconds(0.0);
    t.set_playing(true);
    until(SWITCH_AT);
    let at = t.position_seconds();
    t.toggle_source();
    println!("@switch {at}");
    until(PAUSE_AT);
    t.set_playing(false);
    let paused = t.position_seconds();
    std::thread::sleep(Duration::from_millis(600));
    println!("@pause {paused} {}", t.position_seconds());
    // Back to A while paused (no crossfade is heard: nothing plays), then seek and resume.
    t.set_source(Source::Original);
    t.seek_seconds(SEEK_TO);
    t.set_playing(true);
    until(SEEK_TO + 0.6);
    t.stop();
    std::thread::sleep(Duration::from_millis(600));
    println!("@stopped {} {}", t.position_seconds(), t.is_playing());
    t.set_playing(true);
    until(0.6);
    println!("@kill-me");
    let end = Instant::now() + Duration::from_secs(15);
    let mut lost = None;
    while lost.is_none() && Instant::now() < end {
        if let Ok(a) = answers.recv_timeout(Duration::from_millis(100)) {
            if let SinkAnswer::Lost(e) = &a {
                lost = Some(e.clone());
            }
            player.answer(a);
        }
    }
    match lost {
        Some(e) => println!("@lost {e}"),
        None => println!("@no loss reported in 15 s"),
    }
    println!("@playing {}", t.is_playing());
    // The sound card's thread closes the dead stream by itself (its senders then go): no
    // thread is left polling a device that is gone.
    let end = Instant::now() + Duration::from_secs(5);
    let closed = loop {
        match answers.recv_timeout(Duration::from_millis(100)) {
            Err(mpsc::RecvTimeoutError::Disconnected) => break true,
            _ if Instant::now() > end => break false,
            _ => {}
        }
    };
    println!("@closed {closed}");
    drop(answers);
    drop(player);
    println!("@dropped");
}

// ---- the parent: server, recording and analysis ------------------------------------------

/// A child process killed when dropped.
struct Killed(Child);

impl Killed {
    /// Asks it to finish (SIGINT: parecord flushes what it has), then kills it.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        if !self.wait(Duration::from_secs(3)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn wait(&mut self, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Ok(Some(_)) = self.0.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private PulseAudio daemon (no system or user instance is touched): its runtime, state and
/// configuration live in a temporary folder.
struct Server {
    daemon: Killed,
    address: String,
    dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Option<Server> {
        for p in ["pulseaudio", "parecord", "pactl"] {
            if which(p).is_none() {
                println!("skipped: {p} not found (Debian packages pulseaudio, pulseaudio-utils)");
                return None;
            }
        }
        if alsa_pulse_plugin().is_none() {
            println!(
                "skipped: the ALSA pulse plugin (libasound_module_pcm_pulse.so, Debian package \
                 libasound2-plugins) not found"
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("native");
        let script = dir.path().join("default.pa");
        std::fs::write(
            &script,
            format!(
                "load-module module-null-sink sink_name=out rate={RATE} channels=2 \
                 format=float32le\nset-default-sink out\n\
                 load-module module-native-protocol-unix socket={} auth-anonymous=1\n",
                socket.display()
            ),
        )
        .unwrap();
        let run = dir.path().join("run");
        std::fs::create_dir(&run).unwrap();
        let log = dir.path().join("pulse.log");
        // -n: no default script (no hardware, no D-Bus, no X11 modules); running as root
        // (containers, CI) only earns a warning. No realtime scheduling to ask for.
        let daemon = Command::new("pulseaudio")
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
                "--realtime=no",
                "--high-priority=no",
                "--log-target=stderr",
                "-F",
            ])
            .arg(&script)
            .env("HOME", dir.path())
            .env("XDG_RUNTIME_DIR", &run)
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("PULSE_RUNTIME_PATH", run.join("pulse"))
            .env("PULSE_STATE_PATH", dir.path().join("state"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn();
        let daemon = match daemon {
            Ok(d) => Killed(d),
            Err(e) => {
                println!("skipped: pulseaudio does not start: {e}");
                return None;
            }
        };
        let address = format!("unix:{}", socket.display());
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            let up = Command::new("pactl")
                .arg(format!("--server={address}"))
                .arg("info")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if up {
                return Some(Server {
                    daemon,
                    address,
                    dir,
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        println!(
            "skipped: the PulseAudio server did not come up in 10 s: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        None
    }
}

impl Server {
    /// SIGKILL: the server vanishes as it would if it crashed.
    fn kill(&mut self) {
        let _ = self.daemon.0.kill();
        let _ = self.daemon.0.wait();
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn alsa_pulse_plugin() -> Option<PathBuf> {
    let roots = ["/usr/lib", "/usr/lib64", "/usr/local/lib"];
    roots.iter().find_map(|r| {
        let here = Path::new(r).join("alsa-lib/libasound_module_pcm_pulse.so");
        if here.is_file() {
            return Some(here);
        }
        std::fs::read_dir(r).ok()?.find_map(|e| {
            let p = e
                .ok()?
                .path()
                .join("alsa-lib/libasound_module_pcm_pulse.so");
            p.is_file().then_some(p)
        })
    })
}

fn value<T: std::str::FromStr>(line: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn two<A: std::str::FromStr, B: std::str::FromStr>(line: &str) -> (A, B)
where
    A::Err: std::fmt::Debug,
    B::Err: std::fmt::Debug,
{
    let mut w = line.split_whitespace().skip(1);
    (
        w.next().unwrap().parse().unwrap(),
        w.next().unwrap().parse().unwrap(),
    )
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Normalised correlation of two equally long signals.
fn ncc(x: &[f32], y: &[f32]) -> f64 {
    let (mut xy, mut xx, mut yy) = (0f64, 0f64, 0f64);
    for (&a, &b) in x.iter().zip(y) {
        xy += f64::from(a) * f64::from(b);
        xx += f64::from(a) * f64::from(a);
        yy += f64::from(b) * f64::from(b);
    }
    xy / (xx * yy).sqrt().max(1e-30)
}

/// Index of the first sample from `from` on above `level` in magnitude.
fn first_sound(x: &[f32], from: usize, level: f32) -> Result<usize, String> {
    x.get(from..)
        .and_then(|rest| rest.iter().position(|v| v.abs() > level))
        .map(|i| from + i)
        .ok_or_else(|| format!("no sound after {:.3} s", from as f64 / RATE as f64))
}

/// Index of the first 10 ms of digital silence from `from` on.
fn first_silence(x: &[f32], from: usize, level: f32) -> Result<usize, String> {
    x.get(from..)
        .and_then(|rest| {
            rest.windows(RATE / 100)
                .position(|w| w.iter().all(|v| v.abs() <= level))
        })
        .map(|i| from + i)
        .ok_or_else(|| format!("no silence after {:.3} s", from as f64 / RATE as f64))
}

/// The offset within +-`reach` samples around `guess` at which `template` best matches `x`.
fn best_offset(x: &[f32], template: &[f32], guess: usize, reach: usize) -> (i64, f64) {
    (guess.saturating_sub(reach)..=guess + reach)
        .filter(|&s| s + template.len() <= x.len())
        .map(|s| {
            (
                s as i64 - guess as i64,
                ncc(&x[s..s + template.len()], template),
            )
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap()
}

#[derive(Debug)]
#[allow(dead_code)] // Read through Debug.
struct Report {
    /// Recording index of the stem's first device frame.
    lag: usize,
    stem_correlation: f64,
    switch_seconds: f64,
    switch_correlation: f64,
    switch_max_error: f32,
    switch_max_step: f32,
    click_bound: f32,
    /// The step a switch without a crossfade would make here (|A - B| at the switch).
    hard_switch_step: f32,
    silence_from_seconds: f64,
    pause_seconds: f64,
    seek_correlation: f64,
    seek_offset_samples: i64,
    restart_correlation: f64,
    restart_offset_samples: i64,
}

fn analyse(rec: &[f32], a: &[f32], b: &[f32], switch: f64) -> Result<Report, String> {
    let quiet = 1e-6;
    // An idle null sink's monitor delivers nothing, so the recording may start after the
    // stem's leading silence: put a second of it back.
    let rec = &[vec![0.0; RATE], rec.to_vec()].concat()[..];
    // Play from 0: the recording's first sound is the stem's first sound.
    let a0 = first_sound(a, 0, quiet)?;
    let r0 = first_sound(rec, 0, quiet)?;
    let lag = r0
        .checked_sub(a0)
        .ok_or("the recording starts inside the stem")?;
    let needed = lag + (PAUSE_AT * RATE as f64) as usize + RATE;
    ensure!(rec.len() > needed, "the recording is {} samples", rec.len());
    let until = (switch * RATE as f64) as usize - RATE / 10;
    let stem_correlation = ncc(&rec[lag..lag + until], &a[..until]);

    // The switch: A, then a 5 ms crossfade into B at the same position. Find where the fade
    // starts (the least squared error of that model) near where it was asked for.
    let fade = RATE / 200;
    let asked = (switch * RATE as f64) as usize;
    let (lo, hi) = (asked - RATE / 20, asked + RATE / 5);
    let span = (lo - RATE / 2)..(hi + RATE / 2);
    let model = |k0: usize, k: usize| {
        let m = ((k as f32 - k0 as f32 + 1.0) / fade as f32).clamp(0.0, 1.0);
        a[k] * (1.0 - m) + b[k] * m
    };
    let err = |k0: usize| -> f64 {
        span.clone()
            .map(|k| f64::from(rec[lag + k] - model(k0, k)).powi(2))
            .sum()
    };
    // Coarse then fine: the error is smooth in k0 only within a fade's length.
    let coarse = (lo..hi)
        .step_by(fade / 4)
        .min_by(|&x, &y| err(x).total_cmp(&err(y)))
        .unwrap();
    let k0 = (coarse.saturating_sub(fade)..coarse + fade)
        .min_by(|&x, &y| err(x).total_cmp(&err(y)))
        .unwrap();
    let expected: Vec<f32> = span.clone().map(|k| model(k0, k)).collect();
    let got = &rec[lag + span.start..lag + span.end];
    let switch_correlation = ncc(got, &expected);
    let switch_max_error = got
        .iter()
        .zip(&expected)
        .map(|(g, e)| (g - e).abs())
        .fold(0.0, f32::max);
    // A click is a step between neighbouring samples that neither signal has near the switch.
    let near = (k0 - 2 * fade)..(k0 + 3 * fade);
    let step = |x: &[f32], off: usize| {
        near.clone()
            .map(|k| (x[off + k + 1] - x[off + k]).abs())
            .fold(0.0, f32::max)
    };
    let switch_max_step = step(rec, lag);
    let click_bound = step(a, 0).max(step(b, 0)) + 0.01;
    let hard_switch_step = near
        .clone()
        .map(|k| (a[k] - b[k]).abs())
        .fold(0.0, f32::max);

    // Pause: silence from the paused position on.
    let silence_from = first_silence(rec, lag + asked + RATE / 2, quiet)?;
    let resumed = first_sound(rec, silence_from, quiet)?;
    // Seek: the first sound after the pause is A from the seek position.
    let seek_len = RATE / 2;
    let from = (SEEK_TO * RATE as f64) as usize;
    let (seek_offset_samples, _) = best_offset(rec, &a[from..from + seek_len], resumed, RATE / 50);
    let seek_correlation = ncc(&rec[resumed..resumed + seek_len], &a[from..from + seek_len]);
    // Stop, then play: A from its start again.
    ensure!(
        resumed + seek_len < rec.len(),
        "the recording ends after the seek"
    );
    let stop_silence = first_silence(rec, resumed + seek_len, quiet)?;
    let restarted = first_sound(rec, stop_silence, quiet)?;
    let n = (rec.len() - restarted).min(RATE / 3);
    ensure!(n >= RATE / 10, "the recording ends after the restart");
    let (restart_offset_samples, _) = best_offset(rec, &a[a0..a0 + n], restarted, RATE / 50);
    let restart_correlation = ncc(&rec[restarted..restarted + n], &a[a0..a0 + n]);
    Ok(Report {
        lag,
        stem_correlation,
        switch_seconds: k0 as f64 / RATE as f64,
        switch_correlation,
        switch_max_error,
        switch_max_step,
        click_bound,
        hard_switch_step,
        silence_from_seconds: (silence_from - lag) as f64 / RATE as f64,
        pause_seconds: (resumed - silence_from) as f64 / RATE as f64,
        seek_correlation,
        seek_offset_samples,
        restart_correlation,
        restart_offset_samples,
    })
}
