//! MIDI reading and writing: round trips, long-file timing, tempo maps, hand-built edge cases.

use std::collections::BTreeMap;
use std::path::Path;

use drummernet::atomic_file::Overwrite;
use drummernet::midi::{
    bpm_to_micros_per_beat, midi_bytes, parse_midi, quantize_to_ticks, read_midi, write_midi,
    MidiNote, MidiSettings, MidiWriteOptions, TrackLayout,
};
use drummernet::Error;
use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn tick_seconds(opts: &MidiWriteOptions) -> f64 {
    f64::from(bpm_to_micros_per_beat(opts.tempo_bpm)) / 1e6 / f64::from(opts.ticks_per_beat)
}

fn random_notes(seed: u64, count: usize, span: f64) -> Vec<MidiNote> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut notes: Vec<MidiNote> = (0..count)
        .map(|_| MidiNote {
            time: rng.random_range(0.0..span),
            note: rng.random_range(35..=81),
            velocity: rng.random_range(1..=127),
            duration: rng.random_range(0.01..0.3),
            channel: rng.random_range(0..16),
        })
        .collect();
    notes.sort_by(|a, b| a.time.total_cmp(&b.time));
    notes
}

/// Same keys/velocities/channels, onsets within half a tick.
fn assert_same_notes(written: &[MidiNote], read: &[MidiNote], half_tick: f64) {
    assert_eq!(written.len(), read.len());
    let key = |n: &MidiNote| (n.channel, n.note, (n.time / half_tick).round() as i64);
    let mut a: Vec<&MidiNote> = written.iter().collect();
    let mut b: Vec<&MidiNote> = read.iter().collect();
    a.sort_by_key(|n| key(n));
    b.sort_by_key(|n| key(n));
    for (w, r) in a.iter().zip(&b) {
        assert_eq!(
            (w.note, w.velocity, w.channel),
            (r.note, r.velocity, r.channel)
        );
        assert!(
            (w.time - r.time).abs() <= half_tick + 1e-9,
            "onset {} read back as {}",
            w.time,
            r.time
        );
    }
}

#[test]
fn round_trip_single_track_keeps_every_note() {
    // Well-separated onsets per key so that no note is cut by the next one.
    let notes: Vec<MidiNote> = random_notes(7, 400, 60.0)
        .into_iter()
        .enumerate()
        .map(|(i, n)| MidiNote {
            time: i as f64 * 0.15 + n.time * 1e-3,
            duration: 0.1,
            ..n
        })
        .collect();
    let opts = MidiWriteOptions {
        tempo_bpm: 133.0,
        ticks_per_beat: 480,
        layout: TrackLayout::Single,
        ..MidiWriteOptions::default()
    };
    let bytes = midi_bytes(&notes, &opts).unwrap();
    let read = parse_midi(&bytes, Path::new("mem.mid")).unwrap();
    let tick = tick_seconds(&opts);
    assert_same_notes(&notes, &read, tick / 2.0);
    for (w, r) in notes.iter().zip(&read) {
        assert!(
            (w.duration - r.duration).abs() <= tick + 1e-9,
            "{w:?} vs {r:?}"
        );
    }
    // Quantising predicts the file exactly.
    let predicted = quantize_to_ticks(&notes, &opts);
    for (p, r) in predicted.iter().zip(&read) {
        assert_eq!(p.time, r.time);
        assert!((p.duration - r.duration).abs() < 1e-12);
    }
}

#[test]
fn round_trip_one_track_per_note_names_tracks() {
    let notes = random_notes(11, 300, 20.0);
    let names: BTreeMap<u8, String> = [(36u8, "KD_KD".to_string())].into_iter().collect();
    let opts = MidiWriteOptions {
        tempo_bpm: 87.0,
        ticks_per_beat: 96,
        layout: TrackLayout::OnePerNote { names },
        ..MidiWriteOptions::default()
    };
    let bytes = midi_bytes(&notes, &opts).unwrap();
    let smf = Smf::parse(&bytes).unwrap();
    assert_eq!(smf.header.format, Format::Parallel);
    let mut keys: Vec<u8> = notes.iter().map(|n| n.note).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(smf.tracks.len(), keys.len() + 1);
    let has_kick_name = smf.tracks.iter().any(|t| {
        t.iter()
            .any(|e| e.kind == TrackEventKind::Meta(MetaMessage::TrackName(b"KD_KD")))
    });
    assert_eq!(has_kick_name, keys.contains(&36));
    let read = parse_midi(&bytes, Path::new("mem.mid")).unwrap();
    assert_same_notes(&notes, &read, tick_seconds(&opts) / 2.0);
}

#[test]
fn ten_minutes_at_odd_tempi_do_not_drift() {
    for (bpm, ppq) in [(97.3, 480u16), (97.3, 96), (143.7, 96), (61.1, 480)] {
        let opts = MidiWriteOptions {
            tempo_bpm: bpm,
            ticks_per_beat: ppq,
            layout: TrackLayout::Single,
            ..MidiWriteOptions::default()
        };
        // An onset every 123.457 ms (not on the grid) for 10 minutes.
        let notes: Vec<MidiNote> = (0..4861)
            .map(|i| MidiNote::drum(i as f64 * 0.123457, 42, 90, 0.05))
            .collect();
        let last = notes.last().unwrap().time;
        assert!(last > 599.0);
        let read = parse_midi(&midi_bytes(&notes, &opts).unwrap(), Path::new("long.mid")).unwrap();
        let half = tick_seconds(&opts) / 2.0;
        assert_eq!(read.len(), notes.len());
        for (w, r) in notes.iter().zip(&read) {
            assert!(
                (w.time - r.time).abs() <= half + 1e-9,
                "{bpm}/{ppq}: {w:?} {r:?}"
            );
        }
        assert!((read.last().unwrap().time - last).abs() <= half + 1e-9);
    }
}

fn ev(delta: u32, kind: TrackEventKind<'static>) -> TrackEvent<'static> {
    TrackEvent {
        delta: u28::new(delta),
        kind,
    }
}

fn note_on(delta: u32, key: u8, vel: u8) -> TrackEvent<'static> {
    ev(
        delta,
        TrackEventKind::Midi {
            channel: u4::new(9),
            message: MidiMessage::NoteOn {
                key: u7::new(key),
                vel: u7::new(vel),
            },
        },
    )
}

fn tempo(delta: u32, micros: u32) -> TrackEvent<'static> {
    ev(
        delta,
        TrackEventKind::Meta(MetaMessage::Tempo(u24::new(micros))),
    )
}

fn end() -> TrackEvent<'static> {
    ev(0, TrackEventKind::Meta(MetaMessage::EndOfTrack))
}

#[test]
fn format1_tempo_map_applies_across_tracks() {
    // 480 ppq. Track 0: 120 BPM, at beat 2 -> 60 BPM. Track 2 (not the first!): at beat 4 -> 240 BPM.
    let mut smf = Smf::new(Header::new(
        Format::Parallel,
        Timing::Metrical(u15::new(480)),
    ));
    smf.tracks
        .push(vec![tempo(0, 500_000), tempo(960, 1_000_000), end()]);
    let mut notes_track = vec![note_on(0, 36, 100)];
    for _ in 0..6 {
        notes_track.push(note_on(480, 38, 80));
    }
    notes_track.push(end());
    smf.tracks.push(notes_track);
    smf.tracks.push(vec![tempo(1920, 250_000), end()]);
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes).unwrap();
    let read = parse_midi(&bytes, Path::new("tempo.mid")).unwrap();
    let times: Vec<f64> = read.iter().map(|n| n.time).collect();
    // beats 0..6: 0, 0.5, 1.0 | 2.0, 3.0 | 3.25, 3.5
    let expected = [0.0, 0.5, 1.0, 2.0, 3.0, 3.25, 3.5];
    assert_eq!(times.len(), expected.len());
    for (t, e) in times.iter().zip(expected) {
        assert!((t - e).abs() < 1e-9, "{times:?}");
    }
}

fn smf_bytes(format: u16, timing: [u8; 2], track: &[u8]) -> Vec<u8> {
    let mut b = b"MThd\x00\x00\x00\x06".to_vec();
    b.extend_from_slice(&format.to_be_bytes());
    b.extend_from_slice(&1u16.to_be_bytes());
    b.extend_from_slice(&timing);
    b.extend_from_slice(b"MTrk");
    b.extend_from_slice(&(track.len() as u32).to_be_bytes());
    b.extend_from_slice(track);
    b
}

#[test]
fn running_status_and_velocity_zero_note_off() {
    // 96 ppq, default 120 BPM: 96 ticks = 0.5 s.
    let track = [
        0x00, 0x99, 36, 100, // note-on kick
        0x60, 38, 80, // running status: snare at 0.5 s
        0x00, 36, 0, // running status, velocity 0 = kick off at 0.5 s
        0x30, 42, 70, // hat at 0.75 s
        0x30, 38, 0, // snare off at 1.0 s
        0x00, 0x89, 42, 0, // explicit note-off for the hat at 1.0 s
        0x00, 0xFF, 0x2F, 0x00,
    ];
    let read = parse_midi(&smf_bytes(0, [0, 96], &track), Path::new("rs.mid")).unwrap();
    let got: Vec<(f64, u8, u8, f64, u8)> = read
        .iter()
        .map(|n| (n.time, n.note, n.velocity, n.duration, n.channel))
        .collect();
    assert_eq!(
        got,
        vec![
            (0.0, 36, 100, 0.5, 9),
            (0.5, 38, 80, 0.5, 9),
            (0.75, 42, 70, 0.25, 9)
        ]
    );
}

#[test]
fn smpte_timing_counts_ticks_per_second() {
    // -25 fps, 40 ticks per frame = 1000 ticks per second; tempo events must not matter.
    let track = [
        0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20, // tempo 500000
        0x00, 0x99, 36, 100, //
        0x87, 0x68, 38, 90, // delta 1000 -> 1.0 s
        0x00, 0xFF, 0x2F, 0x00,
    ];
    let read = parse_midi(&smf_bytes(0, [0xE7, 40], &track), Path::new("smpte.mid")).unwrap();
    assert_eq!(read.len(), 2);
    assert!((read[1].time - 1.0).abs() < 1e-12);
}

#[test]
fn zero_tempo_is_an_error_naming_the_file() {
    let track = [
        0x00, 0xFF, 0x51, 0x03, 0x00, 0x00, 0x00, //
        0x00, 0x99, 36, 100, //
        0x00, 0xFF, 0x2F, 0x00,
    ];
    let err = parse_midi(&smf_bytes(0, [0, 96], &track), Path::new("zero.mid")).unwrap_err();
    assert!(matches!(err, Error::Midi { .. }));
    let msg = err.to_string();
    assert!(
        msg.starts_with("zero.mid:") && msg.contains("tempo"),
        "{msg}"
    );
}

#[test]
fn zero_ticks_per_beat_is_an_error() {
    let track = [0x00, 0x99, 36, 100, 0x00, 0xFF, 0x2F, 0x00];
    let err = parse_midi(&smf_bytes(0, [0, 0], &track), Path::new("ppq.mid")).unwrap_err();
    assert!(err.to_string().starts_with("ppq.mid:"), "{err}");
}

#[test]
fn largest_deltas_give_finite_times() {
    // Two maximal deltas (2^28 - 1 ticks each) at the slowest tempo and 1 tick per beat.
    let track = [
        0x00, 0xFF, 0x51, 0x03, 0xFF, 0xFF, 0xFF, //
        0xFF, 0xFF, 0xFF, 0x7F, 0x99, 36, 100, //
        0xFF, 0xFF, 0xFF, 0x7F, 0x99, 38, 100, //
        0x00, 0xFF, 0x2F, 0x00,
    ];
    let read = parse_midi(&smf_bytes(0, [0, 1], &track), Path::new("huge.mid")).unwrap();
    let per_tick = f64::from(0xFF_FFFFu32) / 1e6;
    let max_delta = f64::from((1u32 << 28) - 1);
    assert_eq!(read.len(), 2);
    assert!((read[0].time - max_delta * per_tick).abs() < 1e-3);
    assert!((read[1].time - 2.0 * max_delta * per_tick).abs() < 1e-3);
}

#[test]
fn malformed_bytes_are_errors_naming_the_file() {
    for bytes in [
        b"RIFF....WAVEfmt ".to_vec(),
        Vec::new(),
        b"MThd\x00\x00\x00\x06\x00".to_vec(),
    ] {
        let err = parse_midi(&bytes, Path::new("broken.mid")).unwrap_err();
        assert!(matches!(err, Error::Midi { .. }), "{err:?}");
        assert!(err.to_string().starts_with("broken.mid:"), "{err}");
    }
}

#[test]
fn write_and_read_files_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.mid");
    let notes = vec![MidiNote::drum(0.25, 36, 100, 0.05)];
    let opts = MidiWriteOptions::from_settings(&MidiSettings::default());
    write_midi(&path, &notes, &opts, Overwrite::Refuse).unwrap();
    let err = write_midi(&path, &notes, &opts, Overwrite::Refuse).unwrap_err();
    assert!(matches!(err, Error::OutputExists { .. }));
    let read = read_midi(&path).unwrap();
    assert_eq!(read.len(), 1);
    assert!((read[0].time - 0.25).abs() < 1e-3);
    let empty = midi_bytes(&[], &opts).unwrap();
    assert!(parse_midi(&empty, Path::new("empty.mid"))
        .unwrap()
        .is_empty());
    let missing = read_midi(&dir.path().join("missing.mid")).unwrap_err();
    assert!(missing.to_string().contains("missing.mid"));
    // Bad input is an error naming the file, and nothing is written.
    let bad = vec![MidiNote::drum(f64::NAN, 36, 100, 0.05)];
    let other = dir.path().join("bad.mid");
    let err = write_midi(&other, &bad, &opts, Overwrite::Refuse).unwrap_err();
    assert!(err.to_string().contains("bad.mid"), "{err}");
    assert!(!other.exists());
}

#[test]
fn settings_choose_layout_and_names() {
    let settings = MidiSettings {
        one_track_per_component: true,
        ..MidiSettings::default()
    };
    let opts = MidiWriteOptions::from_settings(&settings);
    match opts.layout {
        TrackLayout::OnePerNote { names } => {
            assert_eq!(names.get(&36).map(String::as_str), Some("KD_KD"));
            assert_eq!(names.get(&54).map(String::as_str), Some("OT_TMB"));
        }
        TrackLayout::Single => panic!("expected one track per note"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// Corrupting a valid file anywhere never panics: it parses or it is a named error.
    #[test]
    fn corrupted_files_never_panic(flips in proptest::collection::vec((0usize..400, any::<u8>()), 1..6),
                                   cut in 0usize..400) {
        let notes = random_notes(3, 20, 5.0);
        let mut bytes = midi_bytes(&notes, &MidiWriteOptions::default()).unwrap();
        for (pos, value) in flips {
            let n = bytes.len();
            bytes[pos % n] = value;
        }
        bytes.truncate(cut.max(1).min(bytes.len()));
        match parse_midi(&bytes, Path::new("fuzz.mid")) {
            Ok(read) => prop_assert!(read.iter().all(|n| n.time.is_finite() && n.duration >= 0.0)),
            Err(e) => prop_assert!(e.to_string().starts_with("fuzz.mid"), "{}", e),
        }
    }
}

/// Found by the corruption proptest: a header whose SMPTE frame-rate byte is 0x80 made midly
/// overflow an i8 negation (a panic in debug builds).
#[test]
fn smpte_frame_rate_0x80_is_an_error_not_a_panic() {
    let mut bytes = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x80\x28".to_vec();
    bytes.extend_from_slice(b"MTrk\x00\x00\x00\x04\x00\xff\x2f\x00");
    let err = drummernet::midi::parse_midi(&bytes, std::path::Path::new("x.mid")).unwrap_err();
    assert!(err.to_string().contains("x.mid"), "{err}");
}
