//! SoundFont (SF2) and GUS-patch drum kits: a tiny SF2 built here (so no package is needed) for
//! rendering, preset enumeration, the `sf2:` kit spec and its errors; the Debian GM SoundFont
//! (`csound-soundfont`) and freepats' drum patches when installed.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use drummernet::atomic_file::Overwrite;
use drummernet::kit::commands::{export_to_folder, list_text, show};
use drummernet::kit::components::{all_component_names, default_component_names};
use drummernet::kit::soundfont::{DrumPreset, SoundFontKits};
use drummernet::kit::spec::KitSpec;
use drummernet::kit::{list_kits, Kit};

const RATE: u32 = 16_000;
const CSOUND_SF2: &str = "/usr/share/sounds/sf2/sf_GMbank.sf2";
const FREEPATS_DRUMS: &str = "/usr/share/midi/freepats/Drum_000";

// ---- a minimal SF2 writer -------------------------------------------------------------------

fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = id.to_vec();
    out.extend((body.len() as u32).to_le_bytes());
    out.extend(body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
    out
}

fn list(kind: &[u8; 4], chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut body = kind.to_vec();
    for c in chunks {
        body.extend(c);
    }
    chunk(b"LIST", &body)
}

fn name20(name: &str) -> Vec<u8> {
    let mut n = name.as_bytes().to_vec();
    n.resize(20, 0);
    n
}

fn gen(oper: u16, amount: u16) -> Vec<u8> {
    [oper.to_le_bytes(), amount.to_le_bytes()].concat()
}

const GEN_INSTRUMENT: u16 = 41;
const GEN_KEY_RANGE: u16 = 43;
const GEN_SCALE_TUNING: u16 = 56;
const GEN_SAMPLE_ID: u16 = 53;

/// A preset of the tiny font: (bank, program, name, lowest key, highest key).
type TinyPreset = (u16, u16, &'static str, u8, u8);

/// An SF2 with one mono sample, one instrument playing it unpitched on every key, and one preset
/// zone per entry restricting that instrument to a key range.
fn tiny_sf2(presets: &[TinyPreset], sample: &[i16], rate: u32) -> Vec<u8> {
    let info = list(
        b"INFO",
        &[
            chunk(b"ifil", &[2, 0, 1, 0]),
            chunk(b"isng", b"EMU8000\0"),
            chunk(b"INAM", b"tiny\0\0"),
        ],
    );
    let mut pcm: Vec<u8> = sample.iter().flat_map(|s| s.to_le_bytes()).collect();
    pcm.extend([0u8; 92]); // the 46 zero samples the format asks after each sample
    let sdta = list(b"sdta", &[chunk(b"smpl", &pcm)]);

    let (mut phdr, mut pbag, mut pgen) = (Vec::new(), Vec::new(), Vec::new());
    for (i, &(bank, program, name, lo, hi)) in presets.iter().enumerate() {
        phdr.extend(name20(name));
        phdr.extend(program.to_le_bytes());
        phdr.extend(bank.to_le_bytes());
        phdr.extend((i as u16).to_le_bytes());
        phdr.extend([0u8; 12]);
        pbag.extend((2 * i as u16).to_le_bytes());
        pbag.extend(0u16.to_le_bytes());
        pgen.extend(gen(GEN_KEY_RANGE, u16::from(lo) | (u16::from(hi) << 8)));
        pgen.extend(gen(GEN_INSTRUMENT, 0));
    }
    phdr.extend(name20("EOP"));
    phdr.extend([0u8; 4]);
    phdr.extend((presets.len() as u16).to_le_bytes());
    phdr.extend([0u8; 12]);
    pbag.extend((2 * presets.len() as u16).to_le_bytes());
    pbag.extend(0u16.to_le_bytes());
    pgen.extend(gen(0, 0));

    let inst = [
        name20("hit"),
        0u16.to_le_bytes().to_vec(),
        name20("EOI"),
        1u16.to_le_bytes().to_vec(),
    ]
    .concat();
    let ibag = [0u16, 0, 3, 0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect::<Vec<_>>();
    let igen = [
        gen(GEN_KEY_RANGE, 127 << 8),
        gen(GEN_SCALE_TUNING, 0),
        gen(GEN_SAMPLE_ID, 0),
        gen(0, 0),
    ]
    .concat();
    let n = sample.len() as u32;
    let mut shdr = name20("hit");
    for v in [0, n, 0, n - 1, rate] {
        shdr.extend(v.to_le_bytes());
    }
    shdr.extend([60u8, 0]); // original pitch, correction
    shdr.extend(0u16.to_le_bytes()); // link
    shdr.extend(1u16.to_le_bytes()); // mono sample
    shdr.extend(name20("EOS"));
    shdr.extend([0u8; 26]);

    let pdta = list(
        b"pdta",
        &[
            chunk(b"phdr", &phdr),
            chunk(b"pbag", &pbag),
            chunk(b"pmod", &[0; 10]),
            chunk(b"pgen", &pgen),
            chunk(b"inst", &inst),
            chunk(b"ibag", &ibag),
            chunk(b"imod", &[0; 10]),
            chunk(b"igen", &igen),
            chunk(b"shdr", &shdr),
        ],
    );
    let body = [b"sfbk".to_vec(), info, sdta, pdta].concat();
    chunk(b"RIFF", &body)
}

/// A 1 kHz ping lasting 40 ms at 44.1 kHz, decaying exponentially.
fn ping() -> Vec<i16> {
    (0..1764)
        .map(|i| {
            let t = i as f64 / 44_100.0;
            (20_000.0 * (-t / 0.008).exp() * (std::f64::consts::TAU * 1000.0 * t).sin()) as i16
        })
        .collect()
}

/// Drum kits 0 (every key) and 8 (no key above 52: lacks the ride bell and tambourine), and a
/// melodic piano in bank 0 that is not a kit.
fn tiny_font_file(dir: &Path) -> PathBuf {
    let presets: [TinyPreset; 3] = [
        (0, 0, "Piano", 0, 127),
        (128, 8, "Room", 0, 52),
        (128, 0, "Standard", 0, 127),
    ];
    let path = dir.join("tiny.sf2");
    std::fs::write(&path, tiny_sf2(&presets, &ping(), 44_100)).unwrap();
    path
}

// ---- helpers --------------------------------------------------------------------------------

fn peak_index(x: &[f32]) -> (usize, f32) {
    x.iter().enumerate().fold(
        (0, 0.0f32),
        |b, (i, v)| if v.abs() > b.1 { (i, v.abs()) } else { b },
    )
}

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|&v| f64::from(v).powi(2)).sum()
}

/// Zero crossings per second: a 1 kHz tone crosses 2000 times.
fn crossing_rate(x: &[f32]) -> f64 {
    let crossings = x
        .windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count();
    crossings as f64 * f64::from(RATE) / x.len() as f64
}

fn one_line_naming(err: &str, name: &str) {
    assert!(err.contains(name), "error does not name {name}: {err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
}

fn drummernet() -> Command {
    let mut cmd = Command::cargo_bin("drummernet").unwrap();
    cmd.env("RUST_BACKTRACE", "1").env_remove("DRUMMERNET_LOG");
    cmd
}

fn csound_sf2() -> Option<PathBuf> {
    let path = PathBuf::from(CSOUND_SF2);
    if path.is_file() {
        Some(path)
    } else {
        println!("skipped: {CSOUND_SF2} not found (Debian package csound-soundfont)");
        None
    }
}

// ---- the tiny SF2 ---------------------------------------------------------------------------

#[test]
fn drum_presets_are_the_bank_128_presets_by_program() {
    let dir = tempfile::tempdir().unwrap();
    let font = SoundFontKits::open(&tiny_font_file(dir.path())).unwrap();
    assert_eq!(
        font.drum_presets(),
        vec![
            DrumPreset {
                number: 0,
                name: "Standard".into()
            },
            DrumPreset {
                number: 8,
                name: "Room".into()
            }
        ]
    );
    assert!(font.plays_note(8, 52).unwrap());
    assert!(!font.plays_note(8, 53).unwrap());
    assert_eq!(
        font.missing_components(8, &all_component_names()).unwrap(),
        vec![
            "OT_TMB (note 54)".to_string(),
            "CY_RDB (note 53)".to_string()
        ]
    );
}

#[test]
fn rendered_component_sounds_like_the_sample_at_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let font = SoundFontKits::open(&tiny_font_file(dir.path())).unwrap();
    let names = vec!["KD_KD".to_string(), "CY_CRC".to_string()];
    let kit = font.kit(0, &names, 16_000).unwrap();
    assert_eq!(kit.name, "tiny.sf2#0");
    assert_eq!(kit.component_names(), names);
    for c in &kit.components {
        assert_eq!(c.samples.len(), 16_000);
        let (at, peak) = peak_index(&c.samples);
        // The ping peaks in its first millisecond and is gone after 40 ms.
        assert!(at < 800, "{}: peak at sample {at}", c.name);
        assert!(peak > 0.05, "{}: peak {peak}", c.name);
        let head = energy(&c.samples[..800]);
        let tail = energy(&c.samples[1600..]);
        assert!(tail < 1e-4 * head, "{}: tail {tail} head {head}", c.name);
        // Played unpitched: still the sample's 1 kHz.
        let rate = crossing_rate(&c.samples[..320]);
        assert!(
            (1800.0..2200.0).contains(&rate),
            "{}: {rate} crossings/s",
            c.name
        );
    }
    // One sample on every key: both components are the same sound.
    let (a, b) = (&kit.components[0].samples, &kit.components[1].samples);
    assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6));
}

#[test]
fn kit_spec_picks_presets_and_skips_incomplete_ones_only_when_not_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_font_file(dir.path());
    let file = path.display().to_string();
    let all = all_component_names();
    let load = |spec: &str, names: &[String]| KitSpec::parse(spec).unwrap().load(names, 1600);

    // The whole file: kit 8 lacks two notes and is skipped.
    let kits = load(&format!("sf2:{file}"), &all).unwrap();
    let names: Vec<&str> = kits.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["tiny.sf2#0"]);
    assert_eq!(kits[0].components.len(), 12);

    // A range skips it too; naming it alone is an error naming the file, preset and notes.
    assert_eq!(load(&format!("sf2:{file}#0-8"), &all).unwrap().len(), 1);
    let err = load(&format!("sf2:{file}#8"), &all)
        .unwrap_err()
        .to_string();
    one_line_naming(&err, "tiny.sf2");
    assert!(
        err.contains("preset 8 (Room)") && err.contains("OT_TMB (note 54)"),
        "{err}"
    );

    // Components it has: kit 8 loads.
    let some = vec!["SD_SD".to_string(), "HH_CHH".to_string()];
    let kits = load(&format!("sf2:{file}#8,0"), &some).unwrap();
    let names: Vec<&str> = kits.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["tiny.sf2#8", "tiny.sf2#0"]);

    // Presets that are not drum kits.
    let err = load(&format!("sf2:{file}#5"), &all)
        .unwrap_err()
        .to_string();
    one_line_naming(&err, "tiny.sf2");
    assert!(
        err.contains("no drum preset 5 (drum presets: 0, 8)"),
        "{err}"
    );
    let err = load(&format!("sf2:{file}#20-30"), &all)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no drum preset in 20-30"), "{err}");
}

#[test]
fn corrupt_or_missing_sf2_is_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(tiny_font_file(dir.path())).unwrap();
    let names = default_component_names();
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("text.sf2".into(), b"this is not a soundfont".to_vec()),
        ("half.sf2".into(), good[..good.len() / 2].to_vec()),
        ("empty.sf2".into(), Vec::new()),
    ];
    // Every single byte of the preset tables garbled, one at a time: an error or a font, never a
    // panic (the parser runs on untrusted files).
    let pdta = good.windows(4).position(|w| w == b"pdta").unwrap();
    // Rendering is tried where the garbled byte is a generator or a sample header (it is slow).
    let chunk_at = |id: &[u8]| good.windows(4).position(|w| w == id).unwrap();
    let (pgen, inst, igen) = (chunk_at(b"pgen"), chunk_at(b"inst"), chunk_at(b"igen"));
    let mut render_cases = std::collections::HashSet::new();
    for at in pdta + 4..good.len() {
        let mut bad = good.clone();
        bad[at] ^= 0xA5;
        let name = format!("garbled{at}.sf2");
        if (pgen..inst).contains(&at) || at >= igen {
            render_cases.insert(name.clone());
        }
        cases.push((name, bad));
    }
    for (name, bytes) in &cases {
        let renders = render_cases.contains(name);
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        match SoundFontKits::open(&path) {
            Ok(font) => {
                // A still-parseable font renders or refuses cleanly.
                let kick = ["KD_KD".to_string()];
                for preset in font.drum_presets().iter().filter(|_| renders) {
                    if let Err(e) = font.kit(preset.number, &kick, 160) {
                        one_line_naming(&e.to_string(), name);
                    }
                }
            }
            Err(e) => {
                let e = e.to_string();
                one_line_naming(&e, name);
                // Refused by the structure checks, not by the parser's panic backstop.
                assert!(!e.contains("inconsistent"), "{e}");
            }
        }
    }
    for name in ["text.sf2", "half.sf2", "empty.sf2"] {
        let err = KitSpec::parse(&format!("sf2:{}", dir.path().join(name).display()))
            .unwrap()
            .load(&names, 800)
            .unwrap_err()
            .to_string();
        one_line_naming(&err, name);
        assert!(err.contains("not an SF2"), "{err}");
    }
    let missing = dir.path().join("absent.sf2");
    let err = KitSpec::parse(&format!("sf2:{}", missing.display()))
        .unwrap()
        .load(&names, 800)
        .unwrap_err()
        .to_string();
    one_line_naming(&err, "absent.sf2");
}

#[test]
fn kit_commands_list_show_and_export_a_preset() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_font_file(dir.path());
    let text = list_text(&path).unwrap();
    assert!(text.contains("2 drum presets"), "{text}");
    assert!(
        text.contains("preset 0   Standard") && text.contains("all 12 components"),
        "{text}"
    );
    assert!(
        text.contains("missing: OT_TMB (note 54), CY_RDB (note 53)"),
        "{text}"
    );

    let summary = show(&path, Some(8), 4000).unwrap();
    let measured: Vec<&str> = summary.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        measured.len(),
        10,
        "preset 8 lacks the tambourine and ride bell"
    );
    assert!(!measured.contains(&"OT_TMB") && measured.contains(&"CY_CRC"));
    let err = show(&path, None, 4000).unwrap_err().to_string();
    assert!(err.contains("choose one with --kit N"), "{err}");

    let out = dir.path().join("exported");
    let spec = format!("sf2:{}#0", path.display());
    let kit = export_to_folder(&spec, 4000, &out, Overwrite::Refuse).unwrap();
    let listed = list_kits(&out).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].components, all_component_names());
    let reloaded = KitSpec::parse(out.to_str().unwrap())
        .unwrap()
        .load(&all_component_names(), 4000)
        .unwrap();
    assert_eq!(reloaded[0].components, kit.components);
    // No silent overwrite; several kits are refused.
    let err = export_to_folder(&spec, 4000, &out, Overwrite::Refuse)
        .unwrap_err()
        .to_string();
    assert!(err.contains("exists already"), "{err}");
    let err = export_to_folder(
        "procedural:1-2",
        4000,
        &dir.path().join("two"),
        Overwrite::Refuse,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("names 2 kits"), "{err}");
}

#[test]
fn cli_lists_and_exports_sf2_kits() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_font_file(dir.path());
    let out = drummernet()
        .args(["kit", "list"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("preset 8   Room"));

    let folder = dir.path().join("kit0");
    let spec = format!("sf2:{}#0", path.display());
    let out = drummernet()
        .args(["kit", "export", &spec, "--out"])
        .arg(&folder)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(folder.join("KD_KD.wav").is_file() && folder.join("CY_RDB.wav").is_file());

    let bad = dir.path().join("bad.sf2");
    std::fs::write(&bad, b"RIFF\x04\x00\x00\x00sfbk").unwrap();
    let out = drummernet()
        .args(["groove", "--count", "1", "--seconds", "1", "--kits"])
        .arg(format!("sf2:{}", bad.display()))
        .arg("--out")
        .arg(dir.path().join("g"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    one_line_naming(err.trim(), "bad.sf2");
    assert!(!err.contains("panicked"), "{err}");
}

// ---- GUS patches ----------------------------------------------------------------------------

/// A GUS patch holding one signed 16-bit waveform at `rate`.
fn gus_patch(samples: &[i16], rate: u16) -> Vec<u8> {
    let mut b = vec![0u8; 129 + 63 + 47 + 96];
    b[..12].copy_from_slice(b"GF1PATCH110\0");
    b[129 + 63 + 6] = 1; // waveforms in the layer
    let wave = 129 + 63 + 47;
    b[wave + 8..wave + 12].copy_from_slice(&(2 * samples.len() as u32).to_le_bytes());
    b[wave + 20..wave + 22].copy_from_slice(&rate.to_le_bytes());
    b[wave + 55] = 1; // 16-bit signed
    b.extend(samples.iter().flat_map(|s| s.to_le_bytes()));
    b
}

#[test]
fn patch_folder_is_a_kit_played_at_the_recorded_rate() {
    let dir = tempfile::tempdir().unwrap();
    let kit_dir = dir.path().join("Drum_000");
    std::fs::create_dir(&kit_dir).unwrap();
    // The 44.1 kHz ping stored as a 32 kHz patch: played at its recorded rate it rings at
    // 1000 * 32 / 44.1 = 726 Hz.
    std::fs::write(kit_dir.join("036_Kick.pat"), gus_patch(&ping(), 32_000)).unwrap();
    std::fs::write(kit_dir.join("036_Kick.txt"), "notes").unwrap();
    std::fs::write(kit_dir.join("0360_Other.pat"), b"not a patch").unwrap();
    let spec = format!("pat:{}", kit_dir.display());
    let kick = vec!["KD_KD".to_string()];
    let kits = KitSpec::parse(&spec).unwrap().load(&kick, 4000).unwrap();
    assert_eq!(kits.len(), 1);
    assert_eq!(kits[0].name, "pat:Drum_000");
    let samples = &kits[0].components[0].samples;
    assert_eq!(samples.len(), 4000);
    assert!(peak_index(samples).0 < 160);
    let rate = crossing_rate(&samples[..800]);
    assert!((1300.0..1600.0).contains(&rate), "{rate} crossings/s");

    let err = KitSpec::parse(&spec)
        .unwrap()
        .load(&["KD_KD".to_string(), "SD_SD".to_string()], 4000)
        .unwrap_err()
        .to_string();
    one_line_naming(&err, "Drum_000");
    assert!(
        err.contains("SD_SD") && err.contains("038_NAME.pat"),
        "{err}"
    );

    std::fs::write(
        kit_dir.join("036_Kick.pat"),
        &gus_patch(&ping(), 32_000)[..300],
    )
    .unwrap();
    let err = KitSpec::parse(&spec)
        .unwrap()
        .load(&kick, 4000)
        .unwrap_err()
        .to_string();
    one_line_naming(&err, "036_Kick.pat");
    assert!(err.contains("not a GUS patch: truncated"), "{err}");
}

// ---- installed sound sets -------------------------------------------------------------------

fn assert_distinct_and_audible(kit: &Kit) {
    for c in &kit.components {
        let (_, peak) = peak_index(&c.samples);
        assert!(peak > 1e-3, "{} {}: peak {peak}", kit.name, c.name);
        assert!(c.samples.iter().all(|v| v.is_finite()));
    }
    for (i, a) in kit.components.iter().enumerate() {
        for b in &kit.components[i + 1..] {
            let diff: f64 = a
                .samples
                .iter()
                .zip(&b.samples)
                .map(|(x, y)| f64::from(x - y).powi(2))
                .sum();
            let scale = energy(&a.samples).max(energy(&b.samples));
            assert!(
                diff > 1e-3 * scale,
                "{}: {} and {} are the same sound",
                kit.name,
                a.name,
                b.name
            );
        }
    }
}

#[test]
fn csound_gm_soundfont_kit_0_has_every_component_distinct() {
    let Some(path) = csound_sf2() else { return };
    let font = SoundFontKits::open(&path).unwrap();
    assert!(font.drum_presets().iter().any(|p| p.number == 0));
    let kit = font.kit(0, &all_component_names(), 16_000).unwrap();
    assert_eq!(kit.components.len(), 12);
    assert_distinct_and_audible(&kit);
}

#[test]
fn freepats_drum_patches_are_a_kit() {
    let dir = PathBuf::from(FREEPATS_DRUMS);
    if !dir.is_dir() {
        println!("skipped: {FREEPATS_DRUMS} not found (Debian package freepats)");
        return;
    }
    let kits = KitSpec::parse(&format!("pat:{FREEPATS_DRUMS}"))
        .unwrap()
        .load(&all_component_names(), 16_000)
        .unwrap();
    assert_eq!(kits.len(), 1);
    assert_eq!(kits[0].components.len(), 12);
    assert_distinct_and_audible(&kits[0]);
    // The TR-808 kick sits low, the closed hat high.
    let kick = &kits[0].component("KD_KD").unwrap().samples;
    let hat = &kits[0].component("HH_CHH").unwrap().samples;
    assert!(crossing_rate(&kick[..1600]) < 400.0);
    assert!(crossing_rate(&hat[..1600]) > 3000.0);
}
