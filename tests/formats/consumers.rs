//! The exported MIDI as real consumers read it: MuseScore 3 imports it as a percussion part whose
//! bars follow the groove's tempo, FluidSynth renders it with the onsets where the notes are,
//! and Python's mido reads every variant the exporter writes without a warning. Each test skips,
//! saying so, where its program is missing (the Debian packages are named in the messages).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use drummernet::atomic_file::Overwrite;
use drummernet::audio::load_mono;
use drummernet::config::Config;
use drummernet::dsp::onset_metrics::{matched_count, merge_close};
use drummernet::eval::beats::{tempo_verdict, TempoVerdict};
use drummernet::groove::Style;
use drummernet::midi::{read_midi, MidiSettings};
use drummernet::transcribe::export::{tempo_of, write_outputs, ModelInfo, OutputFormat};
use drummernet::transcribe::InferenceSettings;
use realfft::RealFftPlanner;

use super::tempo::{performance, transcription_of};

/// `name` on the PATH, if there.
fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Runs `cmd` to completion, killing it after `limit` (a consumer that hangs must fail the
/// test, not the CI job). `None`: it did not finish in time.
fn run_with_limit(cmd: &mut Command, limit: Duration) -> std::io::Result<Option<Output>> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let end = Instant::now() + limit;
    while child.try_wait()?.is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().map(Some)
}

/// Writes the outputs of a transcription holding a generated groove's true notes, through the
/// same writer the CLI uses; returns the written paths.
fn export(
    seed: u64,
    style: Style,
    bpm: f64,
    seconds: f64,
    midi: &MidiSettings,
    dir: &Path,
) -> (drummernet::groove::Performance, Vec<PathBuf>) {
    let p = performance(seed, style, bpm, seconds);
    let t = transcription_of(&p, midi);
    let written = write_outputs(
        &t,
        dir,
        &[OutputFormat::Mid],
        &ModelInfo::default(),
        &InferenceSettings::default(),
        midi,
        Overwrite::Refuse,
    )
    .unwrap();
    (p, written)
}

/// The text of every `<tag>…</tag>` in `xml`, in order (MuseScore's MusicXML has no nested
/// tags of the same name for the ones read here).
fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let body = &rest[i + open.len()..];
        let Some(j) = body.find(&close) else { break };
        out.push(&body[..j]);
        rest = &body[j + close.len()..];
    }
    out
}

#[test]
fn musescore_imports_a_percussion_part_with_bars_at_the_grooves_tempo() {
    let Some(mscore) = program("mscore3") else {
        println!("skipped: mscore3 not found (Debian package musescore3)");
        return;
    };
    // MuseScore is a GUI program; without a display it needs Qt's offscreen platform. Whether
    // it starts at all is checked apart from the import, so that a file it rejects fails.
    let started = run_with_limit(
        Command::new(&mscore)
            .arg("--version")
            .env("QT_QPA_PLATFORM", "offscreen"),
        Duration::from_secs(60),
    );
    if !matches!(&started, Ok(Some(o)) if o.status.success()) {
        println!("skipped: mscore3 does not start headless ({started:?})");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let midi = MidiSettings::default();
    let (bpm, seconds) = (100.0, 16.0);
    let (p, written) = export(31, Style::Rock, bpm, seconds, &midi, dir.path());
    let t = transcription_of(&p, &midi);
    let tempo = tempo_of(&t, &midi);
    assert_eq!(tempo_verdict(tempo.bpm, bpm), TempoVerdict::Correct);
    let xml_path = dir.path().join("groove.musicxml");
    let out = run_with_limit(
        Command::new(&mscore)
            .arg("-o")
            .arg(&xml_path)
            .arg(&written[0])
            .env("QT_QPA_PLATFORM", "offscreen"),
        Duration::from_secs(120),
    )
    .unwrap()
    .expect("mscore3 finished within 2 minutes");
    assert!(
        out.status.success() && xml_path.is_file(),
        "mscore3 failed on the exported MIDI: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    // One part, on a percussion staff, named from General MIDI's drum names.
    let parts = elements(&xml, "part-list");
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].matches("<score-part ").count(), 1, "one part");
    assert!(parts[0].contains("Acoustic Bass Drum") || parts[0].contains("Bass Drum 1"));
    let clefs = elements(&xml, "clef");
    assert!(
        !clefs.is_empty() && clefs.iter().all(|c| c.contains("<sign>percussion</sign>")),
        "percussion clef: {clefs:?}"
    );
    // Bars: a pickup (the file puts the first downbeat on a bar line), then 4/4 bars at the
    // groove's tempo up to the last note's bar.
    let times: Vec<(u32, u32)> = elements(&xml, "time")
        .iter()
        .map(|t| {
            let n = |tag| elements(t, tag)[0].trim().parse::<u32>().unwrap();
            (n("beats"), n("beat-type"))
        })
        .collect();
    assert_eq!(times.last(), Some(&(4, 4)), "time signatures {times:?}");
    let last = p.notes.last().unwrap().time;
    let full_bars = tempo.grid.position(last).bar;
    let pickup = i64::from(tempo.grid.downbeats()[0] > 0.01);
    let want = full_bars + pickup;
    let measures = xml.matches("<measure ").count() as i64;
    println!(
        "MuseScore: {measures} measures (expected {want}: {pickup} pickup + {full_bars} bars of \
         4/4 at {:.2} BPM), time signatures {times:?}",
        tempo.bpm
    );
    assert!(
        (measures - want).abs() <= 1,
        "{measures} measures, expected {want} (+-1)"
    );
    // The tempo marks MuseScore read: the song's tempo from bar 1 (the pickup's may differ).
    let marks: Vec<f64> = xml
        .match_indices("<sound tempo=\"")
        .map(|(i, m)| {
            let v = &xml[i + m.len()..];
            v[..v.find('"').unwrap()].parse().unwrap()
        })
        .collect();
    let song = *marks.last().expect("a tempo mark");
    assert!(
        (song - tempo.bpm).abs() < 0.5,
        "tempo marks {marks:?} vs {:.2}",
        tempo.bpm
    );
}

/// Onset times of `x` (16 kHz) by spectral flux: log-magnitude spectra every 5 ms, the sum of
/// their rises, peaks at least `gap` seconds apart and above a tenth of the loudest.
fn flux_onsets(x: &[f32], rate: u32, gap: f64) -> Vec<f64> {
    let (n, hop) = (512, 80);
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n);
    let window: Vec<f32> = (0..n)
        .map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / n as f32).cos())
        .collect();
    let mut spectrum = fft.make_output_vec();
    let mut prev = vec![0f32; spectrum.len()];
    let mut flux = Vec::new();
    let mut start = 0;
    while start + n <= x.len() {
        let mut frame: Vec<f32> = x[start..start + n]
            .iter()
            .zip(&window)
            .map(|(a, w)| a * w)
            .collect();
        fft.process(&mut frame, &mut spectrum).unwrap();
        let mut rise = 0.0;
        for (c, p) in spectrum.iter().zip(prev.iter_mut()) {
            let m = (1.0 + 100.0 * c.norm()).ln();
            rise += (m - *p).max(0.0);
            *p = m;
        }
        flux.push(rise);
        start += hop;
    }
    let top = flux.iter().fold(0f32, |a, &b| a.max(b));
    let gap = (gap * rate as f64 / hop as f64).round() as usize;
    let mut out: Vec<f64> = Vec::new();
    let mut last: Option<usize> = None;
    for i in 1..flux.len().saturating_sub(1) {
        let local = flux[i] >= flux[i - 1] && flux[i] > flux[i + 1];
        if local && flux[i] > 0.1 * top && last.is_none_or(|l| i - l >= gap) {
            // A frame's rise belongs to the window's end: the new sound entered it there.
            out.push((i * hop + n) as f64 / rate as f64);
            last = Some(i);
        }
    }
    out
}

#[test]
fn fluidsynth_renders_the_notes_where_the_midi_has_them() {
    let sf2 = Path::new("/usr/share/sounds/sf2/sf_GMbank.sf2");
    let Some(fluidsynth) = program("fluidsynth") else {
        println!("skipped: fluidsynth not found (Debian package fluidsynth)");
        return;
    };
    if !sf2.is_file() {
        println!("skipped: {} missing (csound-soundfont)", sf2.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let midi = MidiSettings::default();
    let (p, written) = export(32, Style::Funk, 112.0, 12.0, &midi, dir.path());
    let wav = dir.path().join("rendered.wav");
    // No reverb or chorus: their tails would only blur the onsets.
    let out = run_with_limit(
        Command::new(&fluidsynth)
            .args([
                "-ni", "-R", "0", "-C", "0", "-g", "0.5", "-r", "16000", "-F",
            ])
            .arg(&wav)
            .arg(sf2)
            .arg(&written[0]),
        Duration::from_secs(60),
    )
    .unwrap()
    .expect("fluidsynth finished within a minute");
    assert!(
        out.status.success() && wav.is_file(),
        "fluidsynth: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let x = load_mono(&wav, 16_000).unwrap();
    // Hits closer than 30 ms sound as one onset (a kick under a hi-hat).
    let truth = merge_close(&p.notes.iter().map(|n| n.time).collect::<Vec<_>>(), 0.03);
    // This SoundFont's snare has a second burst 60 ms into the sample; the groove's onsets are
    // a sixteenth (134 ms at 112 BPM) or more apart, so peaks closer than 100 ms are one hit.
    let shortest = truth.windows(2).map(|w| w[1] - w[0]).fold(1.0, f64::min);
    assert!(shortest > 0.1, "onsets {shortest} s apart");
    let detected = flux_onsets(&x, 16_000, 0.1);
    // The SoundFont's samples start a little after their note-on: one offset for the file.
    let (offset, matched) = (-20i32..=60)
        .map(|ms| {
            let shifted: Vec<f64> = detected.iter().map(|t| t - ms as f64 / 1000.0).collect();
            (ms, matched_count(&truth, &shifted, 0.05))
        })
        .max_by_key(|&(ms, m)| (m, -ms.abs()))
        .unwrap();
    let recall = matched as f64 / truth.len() as f64;
    let precision = matched as f64 / detected.len().max(1) as f64;
    println!(
        "fluidsynth: {matched} of {} onsets within 50 ms after a {offset} ms offset \
         (recall {recall:.3}, precision {precision:.3}, {} detected)",
        truth.len(),
        detected.len()
    );
    assert!(recall >= 0.9, "recall {recall:.3}");
    assert!(precision >= 0.8, "precision {precision:.3}");
    assert!(offset.abs() <= 40, "offset {offset} ms");
}

#[test]
fn mido_reads_every_exported_variant_without_a_warning() {
    // Debian's python3-mido is installed for the system Python, which may not be the first
    // python3 on the PATH.
    let python = Path::new("/usr/bin/python3");
    let has_mido = python.is_file()
        && Command::new(python)
            .args(["-c", "import mido"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !has_mido {
        println!("skipped: /usr/bin/python3 with mido not found (Debian package python3-mido)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = Vec::new();
    // Raw and quantised, General MIDI, one track.
    let quantised = MidiSettings {
        quantize: "1/16".into(),
        ..MidiSettings::default()
    };
    let sub = |name: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir(&d).unwrap();
        d
    };
    files.extend(export(41, Style::Shuffle, 96.0, 10.0, &quantised, &sub("gm")).1);
    // One track per component, with a drum map other than General MIDI, quantised with swing.
    let cfg = Config::load(
        None,
        &[
            "midi.drum_map=\"dtx502\"".to_string(),
            "midi.one_track_per_component=true".to_string(),
            "midi.quantize=\"1/8\"".to_string(),
        ],
    )
    .unwrap();
    files.extend(export(42, Style::Funk, 134.0, 10.0, &cfg.midi, &sub("map")).1);
    assert_eq!(files.len(), 4, "{files:?}");
    // Every warning is an error; a file mido cannot parse raises.
    let script = "import json, sys, mido\n\
        out = []\n\
        for f in sys.argv[1:]:\n\
        \x20   m = mido.MidiFile(f)\n\
        \x20   ons = [e for t in m.tracks for e in t if e.type == 'note_on' and e.velocity > 0]\n\
        \x20   out.append({'type': m.type, 'tracks': len(m.tracks), 'notes': len(ons), 'length': m.length})\n\
        print(json.dumps(out))\n";
    let out = Command::new(python)
        .args(["-W", "error", "-c", script])
        .args(&files)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mido: {stderr}");
    assert!(stderr.trim().is_empty(), "mido wrote: {stderr}");
    let read: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (f, r) in files.iter().zip(read.as_array().unwrap()) {
        let ours = read_midi(f).unwrap();
        println!("mido: {} {r}", f.display());
        assert_eq!(r["notes"].as_u64().unwrap() as usize, ours.len(), "{f:?}");
        // Format 0 for one track, 1 for several.
        let tracks = r["tracks"].as_u64().unwrap();
        assert_eq!(r["type"].as_u64(), Some(u64::from(tracks > 1)), "{f:?}");
        let last = ours.iter().map(|n| n.time).fold(0.0, f64::max);
        // mido's length is the file's end in seconds through the tempo map: past the last note,
        // not far past it.
        let length = r["length"].as_f64().unwrap();
        assert!(
            length >= last && length < last + 1.0,
            "{f:?}: {length} s vs last note {last}"
        );
    }
    let tracks: Vec<u64> = read
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tracks"].as_u64().unwrap())
        .collect();
    assert!(tracks[2] > tracks[0], "one track per component: {tracks:?}");
}
