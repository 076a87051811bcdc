#!/usr/bin/env bash
# Downloads MNIST, Fashion-MNIST and CIFAR-10 (binary version) into DIR, in the layout the
# loaders expect (`imcnas ... --data-dir DIR`):
#   DIR/mnist/                 train-images-idx3-ubyte.gz, ... (4 files, kept gzipped)
#   DIR/fashion-mnist/         the same four names
#   DIR/cifar-10-batches-bin/  data_batch_1..5.bin, test_batch.bin (from the tarball)
# The 8x8 digits need no download: they are embedded in the program.
#
# Every download is checked against its published MD5 sum; a file already present with the
# right sum is skipped, so the script can be re-run after an interruption. Files are fetched
# to NAME.part and renamed only once verified, so DIR never holds a half-downloaded file
# under its final name.
#
# MNIST comes from Google's CVDF mirror: the original site (yann.lecun.com) is often down
# or asks for a login. The files are byte-identical (same MD5 sums).
#
# Usage: scripts/download-datasets.sh DIR
set -euo pipefail

MNIST_URL="https://storage.googleapis.com/cvdf-datasets/mnist"
FASHION_URL="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"
CIFAR_URL="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR_MD5="c32a1d4ab5d03f1284b67883e8d87530"

IDX_FILES=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
MNIST_MD5=(f68b3c2dcbeaaa9fbdd348bbdeb94873 d53e105ee54ea40749a09fcbcd1e9432 9fb629c4189551a2d022fa330f9573f3 ec29112dd5afa0611ce80d1b7f02629c)
FASHION_MD5=(8d4fb7e6c68d591d4c3dfef9ec88bf0d 25c81989df183df01b3e8a0aad5dffbe bef4ecab320f06d8554ea6380940ec79 bb300cfdad3c16e7a12a480ee83cd310)

die() {
    echo "download-datasets: $*" >&2
    exit 1
}

if [[ $# -ne 1 || "$1" == -h || "$1" == --help ]]; then
    echo "usage: $0 DIR" >&2
    echo "downloads MNIST, Fashion-MNIST and CIFAR-10 into DIR/mnist, DIR/fashion-mnist, DIR/cifar-10-batches-bin" >&2
    exit 2
fi
DIR=$1

if command -v curl >/dev/null 2>&1; then
    fetch() { curl -fL --retry 3 --connect-timeout 30 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
    fetch() { wget --tries=3 -O "$2" "$1"; }
else
    die "neither curl nor wget is installed"
fi

if command -v md5sum >/dev/null 2>&1; then
    md5_of() { md5sum "$1" | cut -d ' ' -f 1; }
elif command -v md5 >/dev/null 2>&1; then
    md5_of() { md5 -q "$1"; }
else
    die "neither md5sum nor md5 is installed"
fi

# get URL FILE MD5: downloads URL to FILE unless FILE already has the right MD5 sum.
get() {
    local url=$1 file=$2 expected=$3 actual
    if [[ -f "$file" ]]; then
        actual=$(md5_of "$file")
        if [[ "$actual" == "$expected" ]]; then
            echo "ok       $file (already present)"
            return 0
        fi
        echo "redo     $file (MD5 $actual, expected $expected)"
    fi
    echo "fetch    $url"
    rm -f "$file.part"
    if ! fetch "$url" "$file.part"; then
        rm -f "$file.part"
        die "download of $url failed"
    fi
    actual=$(md5_of "$file.part")
    if [[ "$actual" != "$expected" ]]; then
        rm -f "$file.part"
        die "checksum mismatch for $url: MD5 $actual, expected $expected (file removed; retry later or check the mirror)"
    fi
    mv -f "$file.part" "$file"
    echo "ok       $file"
}

# get_idx URL_BASE FOLDER MD5...: the four IDX files of an MNIST-like dataset.
get_idx() {
    local base=$1 folder=$2
    shift 2
    local sums=("$@") i
    mkdir -p "$folder"
    for i in "${!IDX_FILES[@]}"; do
        get "$base/${IDX_FILES[$i]}" "$folder/${IDX_FILES[$i]}" "${sums[$i]}"
    done
}

mkdir -p "$DIR"
get_idx "$MNIST_URL" "$DIR/mnist" "${MNIST_MD5[@]}"
get_idx "$FASHION_URL" "$DIR/fashion-mnist" "${FASHION_MD5[@]}"

# CIFAR-10: keep the verified tarball (so a re-run can skip the download) and extract it
# into a temporary folder, moved into place whole.
tarball="$DIR/cifar-10-binary.tar.gz"
get "$CIFAR_URL" "$tarball" "$CIFAR_MD5"
target="$DIR/cifar-10-batches-bin"
complete=1
for f in data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin; do
    # Each batch holds 10000 records of 3073 bytes.
    if [[ ! -f "$target/$f" || $(wc -c <"$target/$f") -ne 30730000 ]]; then
        complete=0
    fi
done
if [[ $complete == 1 ]]; then
    echo "ok       $target (already extracted)"
else
    tmp="$DIR/.cifar-extract.tmp"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    tar -xzf "$tarball" -C "$tmp" || { rm -rf "$tmp"; die "extracting $tarball failed"; }
    [[ -f "$tmp/cifar-10-batches-bin/test_batch.bin" ]] || { rm -rf "$tmp"; die "$tarball does not hold cifar-10-batches-bin/test_batch.bin"; }
    rm -rf "$target"
    mv "$tmp/cifar-10-batches-bin" "$target"
    rm -rf "$tmp"
    echo "ok       $target"
fi

echo "done: datasets in $DIR"
