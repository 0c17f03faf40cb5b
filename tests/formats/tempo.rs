//! DAW-ready output: tempo and bars estimated from drum events, written as a tempo map with the
//! first downbeat on a bar line (note times unchanged), quantised variants, drum maps.

use std::path::{Path, PathBuf};

use drummernet::atomic_file::Overwrite;
use drummernet::config::Config;
use drummernet::eval::beats::{f_measure, tempo_verdict, TempoVerdict, BEAT_WINDOW};
use drummernet::groove::{generate_performance, GrooveSettings, Performance, Style};
use drummernet::kit::components::COMPONENTS;
use drummernet::midi::{midi_bytes, parse_midi, MidiNote, MidiSettings, MidiWriteOptions};
use drummernet::tempo::{analyse, BeatGrid, Onset, TempoSource};
use drummernet::transcribe::export::{
    csv_text, quantized_path, tempo_of, write_outputs, ModelInfo, OutputFormat,
};
use drummernet::transcribe::{DrumEvent, InferenceSettings, Transcription};
use midly::{MetaMessage, Smf, TrackEventKind};

/// Every event of every track of a file at its absolute tick, in tick order.
fn timed_events<'a>(smf: &Smf<'a>) -> Vec<(u64, TrackEventKind<'a>)> {
    let mut out = Vec::new();
    for track in &smf.tracks {
        let mut tick = 0u64;
        for e in track {
            tick += u64::from(e.delta.as_int());
            out.push((tick, e.kind));
        }
    }
    out.sort_by_key(|e| e.0);
    out
}

/// Every meta event of a file at its absolute tick.
fn metas(bytes: &[u8]) -> Vec<(u64, MetaMessage<'_>)> {
    let smf = Smf::parse(bytes).unwrap();
    timed_events(&smf)
        .into_iter()
        .filter_map(|(tick, kind)| match kind {
            TrackEventKind::Meta(m) => Some((tick, m)),
            _ => None,
        })
        .collect()
}

/// Absolute ticks of the note-ons of a file, in order.
fn note_ticks(bytes: &[u8]) -> Vec<u64> {
    let smf = Smf::parse(bytes).unwrap();
    timed_events(&smf)
        .into_iter()
        .filter_map(|(tick, kind)| match kind {
            TrackEventKind::Midi {
                message: midly::MidiMessage::NoteOn { vel, .. },
                ..
            } if vel.as_int() > 0 => Some(tick),
            _ => None,
        })
        .collect()
}

fn grid_options(grid: BeatGrid) -> MidiWriteOptions {
    MidiWriteOptions {
        grid: Some(grid),
        ..MidiWriteOptions::default()
    }
}

#[test]
fn a_steady_grid_writes_one_tempo_a_pickup_bar_and_exact_times() {
    // 97 BPM, first downbeat 0.83 s in: one beat (0.619 s) fits before it, 0.21 s are left.
    let grid = BeatGrid::uniform(97.0, 0.83, 0.0, 20.0, 4).unwrap();
    let notes: Vec<MidiNote> = (0..60)
        .map(|i| MidiNote::drum(0.05 + i as f64 * 0.3217, 36 + (i % 3) as u8 * 2, 100, 0.05))
        .chain([MidiNote::drum(0.83, 49, 110, 0.05)])
        .collect();
    let bytes = midi_bytes(&notes, &grid_options(grid)).unwrap();
    // Notes keep their absolute times (within half a tick of the fastest tempo written).
    let read = parse_midi(&bytes, Path::new("mem.mid")).unwrap();
    let mut want: Vec<f64> = notes.iter().map(|n| n.time).collect();
    want.sort_by(f64::total_cmp);
    assert_eq!(read.len(), want.len());
    for (r, w) in read.iter().zip(&want) {
        assert!((r.time - w).abs() < 0.0007, "{} vs {w}", r.time);
    }
    let m = metas(&bytes);
    let tempi: Vec<(u64, u32)> = m
        .iter()
        .filter_map(|(t, e)| match e {
            MetaMessage::Tempo(us) => Some((*t, us.as_int())),
            _ => None,
        })
        .collect();
    let signatures: Vec<(u64, u8)> = m
        .iter()
        .filter_map(|(t, e)| match e {
            MetaMessage::TimeSignature(n, 2, _, _) => Some((*t, *n)),
            _ => None,
        })
        .collect();
    // Pickup: the 0.21 s left before the beat at 0.21 s are less than half a beat, so that
    // beat starts at 0 s and lasts 0.83 s: a 1/4 bar, then 4/4 from the downbeat at tick 480.
    assert_eq!(signatures, vec![(0, 1), (480, 4)]);
    let song = (60.0 / 97.0 * 1e6_f64).round() as u32;
    assert_eq!(tempi, vec![(0, 830_000), (480, song)]);
    // The downbeat crash sits on the bar line.
    let crash_tick = note_ticks(&bytes)
        .into_iter()
        .zip(read.iter())
        .find(|(_, n)| n.note == 49)
        .map(|(t, _)| t)
        .unwrap();
    assert_eq!(crash_tick, 480);
}

#[test]
fn a_changing_tempo_becomes_a_tempo_map() {
    // Accelerating from 90 to about 130 BPM over 32 beats.
    let mut beats = vec![0.4];
    for k in 0..32 {
        let bpm = 90.0 + 40.0 * k as f64 / 31.0;
        let last = *beats.last().unwrap();
        beats.push(last + 60.0 / bpm);
    }
    let grid = BeatGrid::new(beats.clone(), 0, 4).unwrap();
    let notes: Vec<MidiNote> = beats
        .iter()
        .map(|&t| MidiNote::drum(t, 36, 100, 0.05))
        .collect();
    let bytes = midi_bytes(&notes, &grid_options(grid)).unwrap();
    let ticks = note_ticks(&bytes);
    // Every beat on a beat line of the file (ticks per beat 480), downbeats on bar lines.
    let pickup = ticks[0];
    assert_eq!(pickup, 480, "one pickup beat of 0.4 s");
    for (k, t) in ticks.iter().enumerate() {
        assert_eq!(*t, pickup + 480 * k as u64);
    }
    let read = parse_midi(&bytes, Path::new("mem.mid")).unwrap();
    for (r, b) in read.iter().zip(&beats) {
        assert!((r.time - b).abs() < 1e-4, "{} vs {b}", r.time);
    }
    let tempo_events = metas(&bytes)
        .iter()
        .filter(|(_, e)| matches!(e, MetaMessage::Tempo(_)))
        .count();
    assert!(tempo_events >= 30, "{tempo_events}");
}

pub(crate) fn performance(seed: u64, style: Style, bpm: f64, seconds: f64) -> Performance {
    let settings = GrooveSettings {
        styles: vec![style],
        bpm_min: bpm,
        bpm_max: bpm,
        ..GrooveSettings::default()
    };
    generate_performance(seed, seconds, &settings)
}

fn onsets(p: &Performance) -> Vec<Onset> {
    p.notes.iter().filter_map(Onset::of_note).collect()
}

#[test]
fn tempo_beats_and_bars_of_generated_grooves() {
    let settings = MidiSettings::default().tempo;
    let cases = [
        (1, Style::Rock, 72.0),
        (2, Style::Funk, 96.0),
        (3, Style::Shuffle, 118.0),
        (4, Style::Disco, 124.0),
        (5, Style::Breakbeat, 165.0),
        (6, Style::DoubleKick, 188.0),
    ];
    for (seed, style, bpm) in cases {
        let p = performance(seed, style, bpm, 20.0);
        let a = analyse(&onsets(&p), p.seconds, &settings, None, 120.0);
        assert_eq!(a.source, TempoSource::Estimated);
        assert_eq!(
            tempo_verdict(a.bpm, bpm),
            TempoVerdict::Correct,
            "{style} at {bpm}: estimated {:.2} ({:?})",
            a.bpm,
            a.candidates
        );
        let beat_f = f_measure(&p.beat_times(), &a.grid.beats, BEAT_WINDOW);
        assert!(beat_f >= 0.9, "{style} at {bpm}: beat F {beat_f:.3}");
        let down_f = f_measure(&p.downbeat_times(), &a.grid.downbeats(), BEAT_WINDOW);
        assert!(down_f >= 0.8, "{style} at {bpm}: downbeat F {down_f:.3}");
    }
    // A fixed tempo keeps its value; the phase still follows the drums.
    let p = performance(9, Style::Rock, 100.0, 12.0);
    let a = analyse(&onsets(&p), p.seconds, &settings, Some(100.0), 120.0);
    assert_eq!((a.source, a.bpm), (TempoSource::Fixed, 100.0));
    assert!(f_measure(&p.beat_times(), &a.grid.beats, BEAT_WINDOW) > 0.95);
}

/// A transcription holding the true notes of `p` as events.
pub(crate) fn transcription_of(p: &Performance, midi: &MidiSettings) -> Transcription {
    let events = p
        .notes
        .iter()
        .filter_map(|n| {
            let (index, c) = COMPONENTS
                .iter()
                .enumerate()
                .find(|(_, c)| c.gm_note == n.note)?;
            Some(DrumEvent {
                time: n.time,
                component: c.name.to_string(),
                component_index: index,
                class: c.class,
                note: midi.note_for(c.name).unwrap_or(n.note),
                velocity: n.velocity,
                confidence: 1.0,
                height: 1.0,
            })
        })
        .collect();
    Transcription {
        input: PathBuf::from("groove.wav"),
        duration: p.seconds,
        components: COMPONENTS.iter().map(|c| c.name.to_string()).collect(),
        activations: Vec::new(),
        frame_rate: 1000.0,
        events,
        passes: Vec::new(),
        peak: 1.0,
        silent: false,
        windows: 0,
        buffered_high_water: 0,
        header_seconds: None,
    }
}

#[test]
fn exports_carry_tempo_bars_and_a_quantised_variant() {
    let p = performance(21, Style::Funk, 104.0, 16.0);
    let midi = MidiSettings {
        quantize: "1/16".into(),
        ..MidiSettings::default()
    };
    let t = transcription_of(&p, &midi);
    let dir = tempfile::tempdir().unwrap();
    let all = [OutputFormat::Mid, OutputFormat::Json, OutputFormat::Csv];
    let written = write_outputs(
        &t,
        dir.path(),
        &all,
        &ModelInfo::default(),
        &InferenceSettings::default(),
        &midi,
        Overwrite::Refuse,
    )
    .unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "groove.mid",
            "groove.json",
            "groove.csv",
            "groove.quantized-1-16.mid",
            "groove.beats.csv"
        ]
    );
    let tempo = tempo_of(&t, &midi);
    assert_eq!(tempo_verdict(tempo.bpm, 104.0), TempoVerdict::Correct);
    // Raw MIDI: every note at its time (half a tick at 104 BPM is 0.6 ms).
    let raw = drummernet::midi::read_midi(&written[0]).unwrap();
    assert_eq!(raw.len(), t.events.len());
    let mut times: Vec<f64> = t.events.iter().map(|e| e.time).collect();
    times.sort_by(f64::total_cmp);
    for (r, w) in raw.iter().zip(&times) {
        assert!((r.time - w).abs() < 0.0007, "{} vs {w}", r.time);
    }
    // Quantised MIDI: same notes, each on a sixteenth of the estimated grid, none moved by more
    // than half a sixteenth.
    let q = drummernet::midi::read_midi(&written[3]).unwrap();
    assert_eq!(q.len(), raw.len());
    let grid = &tempo.grid;
    let sixteenth = 60.0 / tempo.bpm / 4.0;
    for n in &q {
        let pos = (grid.beat_position(n.time) - grid.first_downbeat as f64) * 4.0;
        assert!((pos - pos.round()).abs() < 0.01, "{} at {pos}", n.time);
    }
    let mut qt: Vec<f64> = q.iter().map(|n| n.time).collect();
    qt.sort_by(f64::total_cmp);
    for (a, b) in qt.iter().zip(&times) {
        assert!((a - b).abs() <= sixteenth / 2.0 + 0.001);
    }
    assert_eq!(
        written[3],
        quantized_path(
            Path::new("groove.wav"),
            dir.path(),
            &midi.quantizer().unwrap().unwrap()
        )
    );
    // JSON: tempo block and bar.beat per event.
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&written[1]).unwrap()).unwrap();
    assert_eq!(j["version"], 2);
    assert!((j["tempo"]["bpm"].as_f64().unwrap() / 104.0 - 1.0).abs() < 0.04);
    assert_eq!(j["tempo"]["source"], "estimated");
    assert_eq!(j["tempo"]["beats_per_bar"], 4);
    assert!(j["tempo"]["beats"].as_array().unwrap().len() > 20);
    let first_down = j["tempo"]["downbeats"][0].as_f64().unwrap();
    assert!((first_down - p.first_downbeat).abs() < 0.07);
    let e0 = &j["events"][0];
    assert!(e0["bar"].is_i64() && e0["beat"].as_f64().unwrap() >= 1.0);
    // CSV: bar, beat and tempo columns; the beat grid beside it.
    let csv = std::fs::read_to_string(&written[2]).unwrap();
    assert_eq!(csv, csv_text(&t.events, &tempo));
    assert!(csv.starts_with("time,component,class,note,velocity,confidence,bar,beat,bpm\n"));
    let beats = std::fs::read_to_string(&written[4]).unwrap();
    assert!(beats.starts_with("time,bar,beat,bpm\n"));
    // An event on the first downbeat prints as bar 1, beat 1.
    let on_one = t
        .events
        .iter()
        .find(|e| (e.time - p.first_downbeat).abs() < 0.01)
        .expect("a hit on the first downbeat");
    // (A hair early, it is beat 4.98 of bar 0.)
    let pos = tempo.grid.position(on_one.time);
    let beats_from_one = (pos.bar - 1) as f64 * 4.0 + pos.beat - 1.0;
    assert!(beats_from_one.abs() < 0.05, "{pos:?}");
}

#[test]
fn fixed_tempo_and_drum_maps_reach_the_file() {
    let cfg = Config::load(
        None,
        &[
            "midi.drum_map=\"dtx502\"".to_string(),
            "midi.tempo_bpm=104.0".to_string(),
            "midi.one_track_per_component=true".to_string(),
        ],
    )
    .unwrap();
    let midi = cfg.midi;
    assert_eq!(midi.note_for("TT_HIT"), Some(48));
    assert_eq!(midi.note_for("TT_MHT"), Some(47));
    assert_eq!(midi.note_for("OT_TMB"), Some(54), "not in the map: GM");
    let p = performance(22, Style::Rock, 104.0, 10.0);
    let t = transcription_of(&p, &midi);
    let dir = tempfile::tempdir().unwrap();
    let written = write_outputs(
        &t,
        dir.path(),
        &[OutputFormat::Mid],
        &ModelInfo::default(),
        &InferenceSettings::default(),
        &midi,
        Overwrite::Refuse,
    )
    .unwrap();
    let bytes = std::fs::read(&written[0]).unwrap();
    let m = metas(&bytes);
    let want = (60.0 / 104.0 * 1e6_f64).round() as u32;
    assert!(m.iter().any(|(_, e)| *e == MetaMessage::Tempo(want.into())));
    assert!(m
        .iter()
        .any(|(_, e)| *e == MetaMessage::InstrumentName(b"Yamaha DTX502")));
    assert!(m
        .iter()
        .any(|(_, e)| *e == MetaMessage::TrackName(b"KD_KD")));
    let read = drummernet::midi::read_midi(&written[0]).unwrap();
    assert_eq!(read.len(), t.events.len());
    let keys: std::collections::BTreeSet<u8> = read.iter().map(|n| n.note).collect();
    assert!(!keys.contains(&50), "TT_HIT is 48 on the DTX502: {keys:?}");
    // Unknown map: one line naming the key.
    let e = Config::load(None, &["midi.drum_map=\"nope\"".to_string()]).unwrap_err();
    assert!(e.to_string().contains("midi.drum_map"), "{e}");
}

#[test]
fn groove_sets_write_their_beats_and_bars() {
    use drummernet::groove::{make_groove, read_beats, write_groove_set};
    let dir = tempfile::tempdir().unwrap();
    let kits = [drummernet::kit::procedural::procedural_kit(100, 4000)];
    let settings = GrooveSettings::default();
    let wavs =
        write_groove_set(dir.path(), 2, 6.0, &kits, 3, &settings, Overwrite::Refuse).unwrap();
    for (i, wav) in wavs.iter().enumerate() {
        let beats = read_beats(&wav.with_extension("beats")).unwrap();
        let take = make_groove(drummernet::groove::item_seed(3, i), 6.0, &kits, &settings).unwrap();
        let p = &take.performance;
        assert_eq!(beats.len(), p.beat_times().len());
        assert!((beats[0].0 - p.first_downbeat).abs() < 1e-6);
        assert!(p.first_downbeat >= 0.0 && p.first_downbeat < 0.5 * 60.0 / p.bpm + 1e-9);
        for (k, (t, n)) in beats.iter().enumerate() {
            assert_eq!(*n as usize, k % 4 + 1);
            assert!((t - (p.first_downbeat + k as f64 * 60.0 / p.bpm)).abs() < 1e-5);
        }
        // The first downbeat's kick (every style plays one on it) is where the beats say.
        assert!(p
            .notes
            .iter()
            .any(|n| n.note == 36 && (n.time - p.first_downbeat).abs() < 0.021));
    }
}

/// A groove that changes tempo (`groove.tempo_change_probability`): its MIDI carries the tempo
/// map (the electro kick of every beat reads back on its beat, bars start on the downbeats) and
/// the estimator, given its notes, writes a tempo map that follows it.
#[test]
fn tempo_changes_reach_the_groove_midi_and_the_estimated_tempo_map() {
    use drummernet::eval::beats::tempo_map_verdict;
    use drummernet::groove::{item_seed, make_groove};
    let kits = [drummernet::kit::procedural::procedural_kit(100, 4000)];
    let settings = GrooveSettings {
        styles: vec![Style::Electro],
        tempo_change_probability: 1.0,
        tempo_change_percent_min: 10.0,
        fill_probability: 0.0,
        humanize_std_ms: 0.0,
        humanize_max_ms: 0.0,
        ..GrooveSettings::default()
    };
    for i in 0..4 {
        let take = make_groove(item_seed(5, i), 30.0, &kits, &settings).unwrap();
        let p = &take.performance;
        assert!(p.changes_tempo(), "groove {i}");
        let bytes = midi_bytes(&p.notes, &take.midi_options).unwrap();
        let tempi: std::collections::BTreeSet<u32> = metas(&bytes)
            .iter()
            .filter_map(|(_, e)| match e {
                MetaMessage::Tempo(t) => Some(t.as_int()),
                _ => None,
            })
            .collect();
        assert!(tempi.len() >= 2, "groove {i}: one tempo written");
        let read = parse_midi(&bytes, Path::new("mem.mid")).unwrap();
        for t in p.beat_times() {
            assert!(
                read.iter()
                    .any(|n| n.note == 36 && (n.time - t).abs() < 0.002),
                "groove {i}: no kick read back at beat {t}"
            );
        }
        let a = analyse(
            &onsets(p),
            p.seconds,
            &MidiSettings::default().tempo,
            None,
            120.0,
        );
        assert!(!a.steady, "groove {i}: the change was not seen");
        let (verdict, within) = tempo_map_verdict(&p.beat_times(), &a.grid.beats);
        assert_eq!(verdict, TempoVerdict::Correct, "groove {i}");
        assert!(within >= 0.9, "groove {i}: {within}");
    }
}
