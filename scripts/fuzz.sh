#!/usr/bin/env bash
# Builds and runs polarmap's libFuzzer targets (fuzz/, see docs/formats.md, "Fuzzing") for a
# fixed time each, and fails if any target crashed (a panic, a failed check, a hang past the
# timeout, or an allocation past the memory limit).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS: run time per target (default 60). TARGETs: default all of them; the model_* targets
# build polarmap-core and burn (a long first build). Needs cargo-fuzz
# (`cargo install cargo-fuzz --locked`); on the stable toolchain it runs with RUSTC_BOOTSTRAP=1.
# Builds go to $FUZZ_TARGET_DIR (default /var/tmp/fuzz-target), away from the main build.
# Corpora grow in fuzz/corpus/TARGET (seeded from tests/data and ../shared/testdata, read only);
# crashing inputs land in fuzz/artifacts/TARGET; reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-...   (from fuzz/)
set -euo pipefail

seconds=${1:-60}
shift || true
io_targets=(npy raw_sidecar sidecar tiff_pages tiff_folder mib hdf5 blockfile)
io_targets+=(dm mrc tvips mib_series) # readers-dm
io_targets+=(dectris velox bitshuffle) # readers-hdf5
model_targets=(model_header model_load)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${io_targets[@]}" "${model_targets[@]}"); fi

root=$(cd "$(dirname "$0")/.." && pwd)
shared=${POLARMAP_TESTDATA:-$root/../shared/testdata}
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-/var/tmp/fuzz-target}
cd "$root/fuzz"

# --- seeds ------------------------------------------------------------------------------------
seed() { # seed TARGET FILE...: copies existing files into the target's corpus
    local target=$1; shift
    mkdir -p "corpus/$target"
    for f in "$@"; do
        if [ -f "$f" ]; then cp -f "$f" "corpus/$target/seed-$(basename "$f")"; fi
    done
}
# A Merlin header padded with NULs to its 384 bytes.
mib_header() {
    local h
    h=$(printf 'MQ1,%06d,00384,01,0004,0004,%s,   1x1,01,2000-01-01 00:00:00.000000,0.001000,0,0,0,MQ1A,2000-01-01T00:00:00.000000000Z,1000000ns,%s,' "$1" "$2" "$3")
    printf '%s' "$h"
    head -c $((384 - ${#h})) /dev/zero
}

seed npy "$root"/tests/data/npy/*.npy
seed tiff_pages "$root"/tests/data/tiff/*.tif "$root"/tests/data/tiff/bad/*
seed tiff_folder "$root"/tests/data/tiff/folder/img_1.tif "$root"/tests/data/tiff/single_u32.tif \
    "$root"/tests/data/tiff/mixed_dtype/*
seed hdf5 "$root"/tests/data/*.h5 "$root"/tests/data/*.emd "$shared"/other/py4DSTEM_size2x3x4x5.h5 \
    "$shared"/other/Si100_4D.emd "$shared"/arina/test_00.h5
seed blockfile "$shared"/other/test1.blo
# --- Dectris, Velox, bitshuffle seeds ---
seed velox "$root"/tests/data/velox/*.emd "$shared"/velox/*.emd
u32le() { # u32le N: N as 4 little-endian bytes
    printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) \
        $(($1 >> 16 & 255)) $(($1 >> 24 & 255)))"
}
dectris_seed() { # dectris_seed NAME MASTER DATA [COMPANION]: the dectris target's input layout
    local name=$1 master=$2 data=$3 companion=${4:-}
    [ -f "$master" ] && [ -f "$data" ] || return 0
    mkdir -p corpus/dectris
    { u32le "$(stat -c %s "$master")"; cat "$master"; u32le "$(stat -c %s "$data")"; cat "$data"
      if [ -n "$companion" ]; then cat "$companion"; fi; } > "corpus/dectris/seed-$name"
}
dd="$root/tests/data/dectris"
dectris_seed arina "$dd/arina_bslz4_master.h5" "$dd/arina_bslz4_data_000001.h5" "$dd/arina_bslz4.h5"
for b in eiger_lz4 eiger_deflate eiger_bs_raw eiger_masked arina_mask_applied; do
    dectris_seed "$b" "$dd/${b}_master.h5" "$dd/${b}_data_000001.h5"
done
dectris_seed test_00 "$shared/arina/test_00_master.h5" "$shared/arina/test_00_data_000001.h5" \
    "$shared/arina/test_00.h5"
mkdir -p corpus/bitshuffle
# A real chunk: the arina fixture's first, found by its header (2304 decoded bytes, 8192-byte
# blocks), after the byte that selects 4-byte elements with LZ4; and a whole uncompressed file.
at=$(grep -obUaP '\x00{6}\x09\x00\x00\x00\x20\x00' "$dd/arina_bslz4_data_000001.h5" | head -1 | cut -d: -f1)
if [ -n "$at" ]; then
    { printf '\x06'; tail -c +$((at + 1)) "$dd/arina_bslz4_data_000001.h5" | head -c 1500; } \
        > corpus/bitshuffle/seed-arina-chunk
fi
{ printf '\x01'; cat "$dd/eiger_bs_raw_data_000001.h5"; } > corpus/bitshuffle/seed-raw-file
seed model_header "$root"/fuzz/seeds/model/*.pmm
seed model_load "$root"/fuzz/seeds/model/*.pmm
mkdir -p corpus/raw_sidecar corpus/sidecar corpus/mib
{ printf '%s\0' '{"dtype": "u2", "frame_shape": [4, 4], "scan_shape": [2, 2], "endian": "big", "energy_kv": 200}'
  head -c 128 /dev/zero; } > corpus/raw_sidecar/seed-u2
{ printf '%s\0' '{"dtype": "float32", "frame_shape": [2, 3], "header_bytes": 7, "frame_header_bytes": 3, "frame_footer_bytes": 2, "labels": "RD"}'
  head -c 103 /dev/zero; } > corpus/raw_sidecar/seed-f4-headers
printf '%s' '{"energy_kv": 200, "convergence_mrad": 24.5, "mrad_per_px": 0.5, "scan_step_a": 4, "scan_rotation_deg": -12, "scan_flip": true, "scan_shape": [3, 4], "labels": "MU", "thickness_a": 200.5}' \
    > corpus/sidecar/seed-calibration
printf '%s' '{"dtype": "u2", "frame_shape": [256, 256], "endian": "little", "header_bytes": 0, "labels": "labels.npy"}' \
    > corpus/sidecar/seed-raw
{ mib_header 1 U08 6; head -c 16 /dev/zero; mib_header 2 U08 6; head -c 16 /dev/zero
  printf '\nHDR,\t\nFrames in Acquisition (Number):\t2\nFrames per Trigger (Number):\t2\nScanX:\t2\nScanY:\t1\nEnd\t'
} > corpus/mib/seed-u08-hdr
{ mib_header 1 U16 12; head -c 32 /dev/zero; } > corpus/mib/seed-u16
{ mib_header 1 R64 1; head -c 8 /dev/zero; } > corpus/mib/seed-r64-too-small
merlin_zip=$shared/merlin/Merlin_Single_Quad.zip
if [ -f "$merlin_zip" ] && command -v unzip > /dev/null; then
    tmp=$(mktemp -d)
    for name in Single_1_Frame_CounterDepth_1_Rows_256RAW Quad_1_Frame_CounterDepth_1_Rows_256RAW; do
        unzip -q -o "$merlin_zip" "$name.mib" "$name.hdr" -d "$tmp"
        { cat "$tmp/$name.mib"; printf '\n'; cat "$tmp/$name.hdr"; } > "corpus/mib/seed-$name"
    done
    rm -rf "$tmp"
fi

# readers-dm: Gatan, Direct Electron MRC (+ _info.txt + CSV), TVIPS series, Merlin series.
seed dm "$shared"/gatan/test-1.dm3 "$shared"/gatan/test-2.dm4 "$shared"/gatan/test-12.dm4 \
    "$shared"/gatan/EELS_SI.dm4 "$root"/tests/data/dm/*.dm4
mkdir -p corpus/mrc corpus/tvips corpus/mib_series
for de in 20241021_00405 ROI_Random_Scan Custom; do
    if [ -f "$shared/mrc/${de}_movie.mrc" ]; then
        { cat "$shared/mrc/${de}_movie.mrc"; printf '\n%%INFO\n'
          grep -E '^(Scan|Instrument Acc|Specimen|Diffraction)' "$shared/mrc/${de}_info.txt"
          if [ -f "$shared/mrc/${de}_scan_coordinates.csv" ]; then
              printf '\n%%CSV\n'; cat "$shared/mrc/${de}_scan_coordinates.csv"; fi
        } > "corpus/mrc/seed-$de"
    fi
done
if [ -f "$shared/tvips/test_tvips_2345_split_000.tvips" ]; then
    { cat "$shared"/tvips/test_tvips_2345_split_000.tvips; printf '\n%%PART\n'
      cat "$shared"/tvips/test_tvips_2345_split_001.tvips; printf '\n%%PART\n'
      cat "$shared"/tvips/test_tvips_2345_split_002.tvips; } > corpus/tvips/seed-split
fi
seed tvips "$shared"/tvips/test_tvips_2233_000.tvips
{ mib_header 1 U08 6; head -c 16 /dev/zero; printf '\n%%PART\n'; mib_header 2 U08 6; head -c 16 /dev/zero
  printf '\nHDR,\t\nFrames in Acquisition (Number):\t2\nFrames per Trigger (Number):\t2\nEnd\t'
} > corpus/mib_series/seed-two-parts

# --- build --------------------------------------------------------------------------------------
want_model=false
for t in "${targets[@]}"; do
    case " ${model_targets[*]} " in *" $t "*) want_model=true ;; esac
done
io_wanted=()
model_wanted=()
for t in "${targets[@]}"; do
    case " ${model_targets[*]} " in
        *" $t "*) model_wanted+=("$t") ;;
        *) io_wanted+=("$t") ;;
    esac
done
# -O with debug assertions: optimised, with overflow checks and debug_assert! on.
for t in "${io_wanted[@]}"; do cargo fuzz build -O --debug-assertions "$t"; done
if $want_model; then
    for t in "${model_wanted[@]}"; do cargo fuzz build -O --debug-assertions --features model "$t"; done
fi

# --- run ----------------------------------------------------------------------------------------
failed=()
summary=()
for t in "${targets[@]}"; do
    features=()
    case " ${model_targets[*]} " in *" $t "*) features=(--features model) ;; esac
    mkdir -p "artifacts/$t"
    before=$(ls "artifacts/$t" | wc -l)
    log=$(mktemp)
    start=$(date +%s)
    # -timeout: one input may take 30 s; -malloc_limit_mb: no single allocation of 1 GiB or more.
    if cargo fuzz run -O --debug-assertions "${features[@]}" "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -timeout=30 -rss_limit_mb=3072 -malloc_limit_mb=1024 \
        -print_final_stats=1 > "$log" 2>&1; then
        status=ok
    else
        status=CRASH
        failed+=("$t")
        grep -E "panicked at|ERROR: libFuzzer|SUMMARY|Test unit written" "$log" | head -8 || true
    fi
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo "?")
    elapsed=$(( $(date +%s) - start ))
    after=$(ls "artifacts/$t" | wc -l)
    summary+=("$(printf '%-13s %-5s %4ss %10s runs  corpus %5s  new artifacts %s' "$t" "$status" "$elapsed" "$runs" "$(ls "corpus/$t" | wc -l)" $((after - before)))")
    cp "$log" "artifacts/$t/last-run.log"
    rm -f "$log"
done
rm -rf "${TMPDIR:-/tmp}"/polarmap-fuzz-*

echo
echo "fuzz summary ($seconds s per target):"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
