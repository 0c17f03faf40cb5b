//! MIDI input for `render` and for `eval --pred` (predictions as `.mid`): running status, zero
//! tempo, huge delta times, zero or SMPTE-overflowing timing, non-drum notes, text. The plain
//! malformed, truncated, empty, folder and missing files are in tests/front_ends/cli.rs.

use std::path::Path;

use super::common::{drummernet, run, snapshot, unchanged};

/// A Standard MIDI File with the given tracks.
fn smf(format: u16, timing: [u8; 2], tracks: &[&[u8]]) -> Vec<u8> {
    let mut b = b"MThd\x00\x00\x00\x06".to_vec();
    b.extend_from_slice(&format.to_be_bytes());
    b.extend_from_slice(&(tracks.len() as u16).to_be_bytes());
    b.extend_from_slice(&timing);
    for t in tracks {
        b.extend_from_slice(b"MTrk");
        b.extend_from_slice(&(t.len() as u32).to_be_bytes());
        b.extend_from_slice(t);
    }
    b
}

const END: [u8; 4] = [0x00, 0xFF, 0x2F, 0x00];

fn track(events: &[u8]) -> Vec<u8> {
    let mut t = events.to_vec();
    t.extend_from_slice(&END);
    t
}

/// What `render` and `eval --pred` must give.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// Success; `render` prints this many notes.
    Notes(usize),
    /// One line naming the file, with this text.
    Error(&'static str),
}

struct MidiCase {
    name: &'static str,
    bytes: Vec<u8>,
    render: Want,
    eval: Want,
    what: &'static str,
}

fn cases() -> Vec<MidiCase> {
    // Kick, then snare and hat by running status; velocity-0 note-ons end them.
    let running = track(&[
        0x00, 0x99, 36, 100, 0x60, 38, 90, 0x00, 36, 0, 0x30, 42, 70, 0x30, 38, 0, 0x00, 42, 0,
    ]);
    let zero_tempo = track(&[0x00, 0xFF, 0x51, 0x03, 0, 0, 0, 0x00, 0x99, 36, 100]);
    // A kick after 2^28 - 1 ticks: 36 hours at 120 BPM and 480 ticks per beat.
    let huge = track(&[0x00, 0x99, 36, 100, 0xFF, 0xFF, 0xFF, 0x7F, 0x99, 38, 100]);
    let plain = track(&[0x00, 0x99, 36, 100, 0x60, 0x99, 38, 100]);
    let not_drums = track(&[0x00, 0x90, 100, 100, 0x60, 0x90, 101, 100]);
    vec![
        MidiCase {
            name: "running_status.mid",
            bytes: smf(0, [0, 96], &[&running]),
            render: Want::Notes(3),
            eval: Want::Notes(3),
            what: "running status and note-on velocity 0 as note-off",
        },
        MidiCase {
            name: "format2.mid",
            bytes: smf(2, [0, 96], &[&plain, &plain]),
            render: Want::Notes(4),
            eval: Want::Notes(4),
            what: "format 2 (independent songs)",
        },
        MidiCase {
            name: "zero_tempo.mid",
            bytes: smf(0, [0, 96], &[&zero_tempo]),
            render: Want::Error("tempo of 0 microseconds"),
            eval: Want::Error("tempo of 0 microseconds"),
            what: "a Set Tempo of 0",
        },
        MidiCase {
            name: "huge_delta.mid",
            bytes: smf(0, [0x01, 0xE0], &[&huge]),
            render: Want::Error("longer than the 3600 s a render may last"),
            eval: Want::Notes(2),
            what: "a delta time of 2^28 - 1 ticks (36 hours)",
        },
        MidiCase {
            name: "zero_ticks.mid",
            bytes: smf(0, [0, 0], &[&plain]),
            render: Want::Error("ticks per beat"),
            eval: Want::Error("ticks per beat"),
            what: "0 ticks per beat",
        },
        MidiCase {
            name: "smpte_0x80.mid",
            bytes: smf(0, [0x80, 40], &[&plain]),
            render: Want::Error("frame rate"),
            eval: Want::Error("frame rate"),
            what: "SMPTE frame-rate byte 0x80 (overflows midly)",
        },
        MidiCase {
            name: "not_drums.mid",
            bytes: smf(0, [0, 96], &[&not_drums]),
            render: Want::Error("no note the kit"),
            eval: Want::Notes(0),
            what: "only notes no drum plays (keys 100, 101)",
        },
        MidiCase {
            name: "text.mid",
            bytes: b"[Verse]\nkick snare kick snare\n".to_vec(),
            render: Want::Error("not a valid MIDI file"),
            eval: Want::Error("not a valid MIDI file"),
            what: "a text file named .mid",
        },
    ]
}

fn check(want: Want, ran: &super::common::Ran, name: &str, notes_word: &str) -> String {
    match want {
        Want::Notes(n) => {
            ran.succeeded();
            if !notes_word.is_empty() {
                assert!(
                    ran.stdout.contains(&format!("{n} {notes_word}")),
                    "{name}: {}",
                    ran.stdout
                );
            }
            "exit 0".into()
        }
        Want::Error(text) => {
            let line = ran.one_line_error(&[name, text]);
            format!("exit 1: `{}`", line)
        }
    }
}

#[test]
fn midi_corpus_through_render_and_eval() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, case) in cases().into_iter().enumerate() {
        let input = dir.path().join(case.name);
        std::fs::write(&input, &case.bytes).expect("write");
        // render: the output must not appear (nor a stray temporary file).
        let out_dir = dir.path().join(format!("render-{i}"));
        std::fs::create_dir(&out_dir).expect("mkdir");
        let before = snapshot(&out_dir);
        let ran = run(drummernet()
            .arg("render")
            .arg(&input)
            .args(["--kit", "procedural:2", "-o"])
            .arg(out_dir.join("out.wav")));
        let render_cell = check(case.render, &ran, case.name, "notes");
        if matches!(case.render, Want::Error(_)) {
            unchanged(&out_dir, &before, case.name);
        } else {
            assert!(out_dir.join("out.wav").is_file());
        }
        // eval --pred: the file is the prediction of clip `x`.
        let (gt, pred) = (
            dir.path().join(format!("gt-{i}")),
            dir.path().join(format!("pred-{i}")),
        );
        std::fs::create_dir(&gt).expect("mkdir");
        std::fs::create_dir(&pred).expect("mkdir");
        std::fs::write(gt.join("x.txt"), "0.0\tKD\n0.5\tSD\n").expect("gt");
        let stem = Path::new(case.name).file_stem().expect("stem");
        std::fs::write(gt.join(stem).with_extension("txt"), "0.0\tKD\n").expect("gt");
        std::fs::copy(&input, pred.join(case.name)).expect("copy");
        let json = pred.join("result.json");
        let ran = run(drummernet()
            .args(["eval", "--gt"])
            .arg(&gt)
            .arg("--pred")
            .arg(&pred)
            .arg("--json")
            .arg(&json));
        let eval_cell = check(case.eval, &ran, case.name, "");
        assert_eq!(
            json.is_file(),
            matches!(case.eval, Want::Notes(_)),
            "{}",
            case.name
        );
        println!("| {} | {render_cell} | {eval_cell} |", case.what);
    }
}

#[test]
fn prediction_text_with_nan_infinite_and_negative_times_scores_without_failing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (gt, pred) = (dir.path().join("gt"), dir.path().join("pred"));
    std::fs::create_dir(&gt).expect("mkdir");
    std::fs::create_dir(&pred).expect("mkdir");
    std::fs::write(gt.join("a.txt"), "0.5\tKD\n1.0\tSD\n").expect("gt");
    std::fs::write(
        pred.join("a.txt"),
        "NaN\tKD\ninf\tKD\n-1.0\tKD\n0.5\tKD\n1e308\tSD\n1.01\tSD\n\u{0}\u{1}binary\n",
    )
    .expect("pred");
    let ran = run(drummernet()
        .args(["eval", "--gt"])
        .arg(&gt)
        .arg("--pred")
        .arg(&pred)
        .arg("--per-clip"));
    ran.succeeded();
    // The two real onsets match; the others are false positives, not a crash or NaN scores.
    assert!(!ran.stdout.contains("NaN"), "{}", ran.stdout);
}
