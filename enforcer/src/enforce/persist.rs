//! Enforcement that outlives the agent: the maps and links pinned under `<pin_dir>/enforce/`.
//!
//! Layout (bpffs):
//! - `maps/<map>`: the policy maps, the decision ring buffer, the counters, and `pal_enf_meta`,
//!   a userspace-only hash map recording what userspace needs to take the state over again
//!   (format version and mechanism; per set id: policy name, source and the policy as YAML).
//! - `links/<program>`: every attached program's bpf_link. A link stays attached as long as its
//!   pin exists, whether or not an agent runs.
//!
//! A new agent never removes anything before its replacement is attached: it pins its new
//! links (and, when it could not reuse the maps, its new maps) under `links_new/` and
//! `maps_new/`, then renames the current directories to `*_old` (bpffs refuses names with a dot), the new ones into place, and
//! only then unpins the old ones. [`PinLayout::recover`] finishes or discards a switch that a
//! crash interrupted.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, MapHandle, MapInfo, MapType};
use palisade_bpf::enforce::EnforceSkelBuilder;
use serde::{Deserialize, Serialize};

/// Maps whose contents are the enforcement state (scratch maps are per load).
pub(crate) const PERSISTENT: [&str; 9] = [
    "pal_bindings",
    "pal_sets",
    "pal_trie",
    "pal_rule_uids",
    "pal_aliases",
    "pal_net",
    "pal_decisions",
    "pal_enf_stats",
    "pal_setup_tasks",
];

/// Name of the metadata map (also its pin name).
pub(crate) const META: &str = "pal_enf_meta";
/// Bumped when the metadata records change incompatibly (forces the migrate path).
const META_VERSION: u32 = 1;
/// Metadata key of the header record (set ids stay below 2^30).
const HEADER_SET: u32 = u32::MAX;
/// Value size of a metadata chunk: a u32 length and up to `CHUNK - 4` bytes of the record.
const CHUNK: usize = 4096;
const META_ENTRIES: u32 = 65_536;

/// The header record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Header {
    pub version: u32,
    /// `FileMechanism::as_str` of the agent that wrote the maps.
    pub mechanism: String,
}

/// What a set id holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SetRecord {
    pub name: String,
    pub source: String,
    /// `policy::render::to_yaml` of the policy (parses back to the same policy).
    pub policy: String,
}

/// The directories under `<pin_dir>/enforce`.
#[derive(Debug, Clone)]
pub(crate) struct PinLayout {
    pub root: PathBuf,
}

fn remove_pins(dir: &Path) -> Result<()> {
    if dir.exists() {
        // every entry is a pin: unlinking it drops the kernel object once no fd holds it
        fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    Ok(())
}

impl PinLayout {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }
    fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Finishes a switch the previous agent completed up to the renames, or discards one it
    /// did not get that far with (its `_new` objects were never the live state).
    pub fn recover(&self) -> Result<()> {
        let (maps, maps_new) = (self.dir("maps"), self.dir("maps_new"));
        let (links, links_new) = (self.dir("links"), self.dir("links_new"));
        // maps_new is complete once every map is pinned in it (pinned before any rename)
        let complete = PERSISTENT
            .iter()
            .chain([&META])
            .all(|m| maps_new.join(m).exists());
        if !maps.exists() && maps_new.exists() && complete {
            tracing::info!("finishing an interrupted switch of pinned enforcement maps");
            fs::rename(&maps_new, &maps).context("renaming maps_new")?;
            if links_new.exists() {
                remove_pins(&links)?;
                fs::rename(&links_new, &links).context("renaming links_new")?;
            }
        }
        // links_new without maps_new were attached against the live maps: harmless to keep
        // until the new agent's own links replace them, but simplest to drop now that the
        // current links (still pinned) enforce the same maps
        if links.exists() {
            remove_pins(&links_new)?;
        } else if links_new.exists() {
            fs::rename(&links_new, &links).context("renaming links_new")?;
        }
        remove_pins(&maps_new)?;
        remove_pins(&self.dir("links_old"))?;
        remove_pins(&self.dir("maps_old"))?;
        Ok(())
    }

    /// Drops what [`Self::pin_new`] pinned (this agent's fds keep its objects alive).
    pub fn discard_new(&self) {
        let _ = remove_pins(&self.dir("maps_new"));
        let _ = remove_pins(&self.dir("links_new"));
    }

    /// The pinned state, if a previous agent left one.
    pub fn open(&self) -> Result<Option<Pinned>> {
        let dir = self.dir("maps");
        if !dir.exists() {
            return Ok(None);
        }
        let open = |name: &str| {
            let p = dir.join(name);
            MapHandle::from_pinned_path(&p).with_context(|| format!("opening {}", p.display()))
        };
        let meta = open(META)?;
        let mut maps = HashMap::new();
        for name in PERSISTENT {
            maps.insert(name, open(name)?);
        }
        let header: Header = serde_json::from_slice(
            read_records(&meta)?
                .get(&HEADER_SET)
                .context("no header record in the metadata map")?,
        )
        .context("header record")?;
        Ok(Some(Pinned { maps, meta, header }))
    }

    /// Pins `links` (and `maps` when they are new) under the `_new` directories.
    pub fn pin_new(
        &self,
        links: &mut [(String, Link)],
        maps: Option<&[(&str, &MapHandle)]>,
    ) -> Result<()> {
        fs::create_dir_all(&self.root)
            .with_context(|| format!("creating {}", self.root.display()))?;
        if let Some(maps) = maps {
            let d = self.dir("maps_new");
            remove_pins(&d)?;
            fs::create_dir(&d).with_context(|| format!("creating {}", d.display()))?;
            for (name, m) in maps {
                // pin a duplicate: `MapHandle::pin` needs `&mut`
                let mut h = MapHandle::try_from(*m)?;
                h.pin(d.join(name))
                    .with_context(|| format!("pinning map {name}"))?;
            }
        }
        let d = self.dir("links_new");
        remove_pins(&d)?;
        fs::create_dir(&d).with_context(|| format!("creating {}", d.display()))?;
        for (name, l) in links {
            l.pin(d.join(&*name))
                .with_context(|| format!("pinning link {name}"))?;
        }
        Ok(())
    }

    /// Makes the `_new` pins the live ones and drops the previous agent's: its programs
    /// detach only now, after the new ones have been attached for a while.
    pub fn commit(&self, with_maps: bool) -> Result<()> {
        let swap = |name: &str| -> Result<()> {
            let (cur, new, old) = (
                self.dir(name),
                self.dir(&format!("{name}_new")),
                self.dir(&format!("{name}_old")),
            );
            if cur.exists() {
                fs::rename(&cur, &old).with_context(|| format!("renaming {}", cur.display()))?;
            }
            fs::rename(&new, &cur).with_context(|| format!("renaming {}", new.display()))?;
            Ok(())
        };
        // maps first: `recover` treats maps_new without maps as complete
        if with_maps {
            swap("maps")?;
        }
        swap("links")?;
        remove_pins(&self.dir("links_old"))?;
        remove_pins(&self.dir("maps_old"))?;
        Ok(())
    }
}

/// A previous agent's pinned state.
pub(crate) struct Pinned {
    pub maps: HashMap<&'static str, MapHandle>,
    pub meta: MapHandle,
    pub header: Header,
}

impl Pinned {
    pub fn map(&self, name: &str) -> &MapHandle {
        &self.maps[name]
    }

    /// Why the pinned maps cannot be reused by this build's programs, if they cannot.
    pub fn incompatibility(&self) -> Result<Option<String>> {
        if self.header.version != META_VERSION {
            return Ok(Some(format!(
                "metadata format {} (this agent writes {META_VERSION})",
                self.header.version
            )));
        }
        let mut storage = MaybeUninit::uninit();
        let open = EnforceSkelBuilder::default()
            .open(&mut storage)
            .context("opening enforce BPF object")?;
        for m in open.open_object().maps() {
            let name = m.name().to_string_lossy().into_owned();
            let Some(old) = self.maps.get(name.as_str()) else {
                continue;
            };
            let flags = MapInfo::new(old.as_fd())
                .map(|i| i.info.map_flags)
                .unwrap_or(u32::MAX);
            let want = (
                m.map_type(),
                m.key_size(),
                m.value_size(),
                m.max_entries(),
                m.map_flags(),
            );
            let have = (
                old.map_type(),
                old.key_size(),
                old.value_size(),
                old.max_entries(),
                flags,
            );
            // a ring buffer's size is rounded by nobody: compare all fields for every map
            if want != have {
                return Ok(Some(format!(
                    "map {name} changed (type/key/value/max_entries/flags {want:?} -> pinned {have:?})"
                )));
            }
        }
        Ok(None)
    }
}

/// Creates an empty metadata map.
pub(crate) fn create_meta() -> Result<MapHandle> {
    let opts = libbpf_rs::libbpf_sys::bpf_map_create_opts {
        sz: std::mem::size_of::<libbpf_rs::libbpf_sys::bpf_map_create_opts>() as _,
        // allocated as written: a few records, not 65536 x 4 KiB
        map_flags: libbpf_rs::libbpf_sys::BPF_F_NO_PREALLOC,
        ..Default::default()
    };
    MapHandle::create(
        MapType::Hash,
        Some(META),
        8,
        CHUNK as u32,
        META_ENTRIES,
        &opts,
    )
    .context("creating the enforcement metadata map")
}

fn key(set: u32, chunk: u32) -> [u8; 8] {
    let mut k = [0u8; 8];
    k[..4].copy_from_slice(&set.to_ne_bytes());
    k[4..].copy_from_slice(&chunk.to_ne_bytes());
    k
}

/// Writes (replaces) the record of `set`.
pub(crate) fn write_record(meta: &MapHandle, set: u32, bytes: &[u8]) -> Result<()> {
    let pieces: Vec<&[u8]> = if bytes.is_empty() {
        vec![&[][..]]
    } else {
        bytes.chunks(CHUNK - 4).collect()
    };
    for (i, piece) in pieces.iter().enumerate() {
        let mut v = vec![0u8; CHUNK];
        v[..4].copy_from_slice(&(piece.len() as u32).to_ne_bytes());
        v[4..4 + piece.len()].copy_from_slice(piece);
        meta.update(&key(set, i as u32), &v, MapFlags::ANY)
            .context("pal_enf_meta (map full?)")?;
    }
    // a shorter record than before: drop the old tail
    let mut i = pieces.len() as u32;
    while meta.delete(&key(set, i)).is_ok() {
        i += 1;
    }
    Ok(())
}

/// Deletes the record of `set`.
pub(crate) fn delete_record(meta: &MapHandle, set: u32) {
    let mut i = 0;
    while meta.delete(&key(set, i)).is_ok() {
        i += 1;
    }
}

/// Every complete record, by set id (the header under `u32::MAX`).
pub(crate) fn read_records(meta: &MapHandle) -> Result<BTreeMap<u32, Vec<u8>>> {
    let mut chunks: BTreeMap<(u32, u32), Vec<u8>> = BTreeMap::new();
    for k in meta.keys() {
        let (Ok(s), Ok(c)) = (k[..4].try_into(), k[4..8].try_into()) else {
            continue;
        };
        let Some(v) = meta.lookup(&k, MapFlags::ANY)? else {
            continue;
        };
        let len =
            (u32::from_ne_bytes(v[..4].try_into().unwrap_or_default()) as usize).min(CHUNK - 4);
        chunks.insert(
            (u32::from_ne_bytes(s), u32::from_ne_bytes(c)),
            v[4..4 + len].to_vec(),
        );
    }
    let mut out: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let mut next: HashMap<u32, u32> = HashMap::new();
    for ((set, c), bytes) in chunks {
        let n = next.entry(set).or_default();
        if *n != c {
            // a gap: a record half written by an agent killed mid-write
            continue;
        }
        *n += 1;
        out.entry(set).or_default().extend_from_slice(&bytes);
    }
    Ok(out)
}

/// Writes the header record.
pub(crate) fn write_header(meta: &MapHandle, mechanism: &str) -> Result<()> {
    let h = Header {
        version: META_VERSION,
        mechanism: mechanism.into(),
    };
    write_record(meta, HEADER_SET, &serde_json::to_vec(&h)?)
}

/// The set records (header excluded); records that do not parse are reported and skipped.
pub(crate) fn set_records(meta: &MapHandle) -> Result<BTreeMap<u32, SetRecord>> {
    let mut out = BTreeMap::new();
    for (set, bytes) in read_records(meta)? {
        if set == HEADER_SET {
            continue;
        }
        match serde_json::from_slice(&bytes) {
            Ok(r) => {
                out.insert(set, r);
            }
            Err(e) => tracing::warn!("pinned policy record of set {set} unreadable: {e}"),
        }
    }
    Ok(out)
}

/// Every cgroup id that exists now (directory inode numbers under the cgroup2 root).
pub(crate) fn live_cgroups(root: Option<&Path>) -> Result<HashSet<u64>> {
    let Some(root) = root else {
        bail!("no cgroup2 mount: cannot tell which bound cgroups still exist");
    };
    let mut out = HashSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(md) = fs::metadata(&d) {
            out.insert(md.ino());
        }
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs root (creates a BPF map), as the rest of CI does.
    #[test]
    fn records_round_trip_across_chunks_and_half_written_ones_are_ignored() {
        let meta = create_meta().expect("creating a BPF hash map needs root");
        let long: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        write_record(&meta, 7, &long).unwrap();
        write_record(&meta, 8, b"short").unwrap();
        write_header(&meta, "bpf_lsm").unwrap();
        let r = read_records(&meta).unwrap();
        assert_eq!(r[&7], long);
        assert_eq!(r[&8], b"short");
        // shrinking a record drops its old tail
        write_record(&meta, 7, b"now short").unwrap();
        assert_eq!(read_records(&meta).unwrap()[&7], b"now short");
        // a record whose first chunk is missing (killed mid-write) is not returned
        write_record(&meta, 9, &long).unwrap();
        meta.delete(&key(9, 0)).unwrap();
        assert!(!read_records(&meta).unwrap().contains_key(&9));
        delete_record(&meta, 8);
        assert!(!read_records(&meta).unwrap().contains_key(&8));
        let h: Header = serde_json::from_slice(&read_records(&meta).unwrap()[&HEADER_SET]).unwrap();
        assert_eq!(h.mechanism, "bpf_lsm");
    }
}
