#!/usr/bin/env bash
# Builds what a lent GPU machine needs to run benchmarks/gpu.py (issue 12), here, on CPU,
# before any device time is spent. The machine has no network; its image holds torch,
# numpy, scipy and most of our stack but not allennlp, and too new transformers /
# huggingface-hub / tokenizers for it. Writes (runs/ is ignored, so both can be carried):
#   runs/gpu_bundle/site.tar.xz  the missing packages, unpacked for CPython 3.12 x86-64
#                                (shared objects stripped of symbols, botocore's data
#                                trimmed to s3/sts, test folders dropped): about 22 MB
#   runs/gpu_bundle/data.tar.xz  the four corpora and the CDR development PubTator file
# Then one device call (scripts/gpu/on_device.sh says how):
#   run(command="bash scripts/gpu/on_device.sh", carry=["runs/gpu_bundle"], timeout_s=540)
#   scripts/gpu/bundle.sh [DATA_ROOT]
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-${BIOMTL_DATA_ROOT:-$(pwd)/../shared/data}}
out=runs/gpu_bundle
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/wheels"

# requirements*.txt minus what the GPU image has (/work/.library/device/KINDS.md's package
# list), minus ray and allennlp-models (not used there), plus the versions allennlp needs
# where the image's are too new.
packages="annotated-types==0.8.0 base58==2.1.1 blis==1.3.4 boto3==1.44.8 botocore==1.44.8
cached_path==1.8.10 catalogue==2.0.10 cloudpathlib==0.26.0 confection==1.3.4 conllu==6.0.0
cymem==2.0.16 dill==0.4.1 ftfy==6.3.1 google-api-core==2.44.0 google-auth==2.63.0
google-cloud-core==2.8.0 google-cloud-storage==3.17.1 google-crc32c==1.9.0
google-resumable-media==2.11.0 googleapis-common-protos==1.76.0 jmespath==1.1.0
jsonnet==0.22.0 lmdb==3.0.0 more-itertools==11.2.1 murmurhash==1.0.16 nltk==3.10.4
preshed==3.0.15 proto-plus==1.29.0 pyasn1==0.6.5 pyasn1_modules==0.4.2 pydantic==2.14.4
pydantic_core==2.50.5 s3transfer==0.19.3 sacremoses==0.2.0 smart_open==9.0.2
spacy-legacy==3.0.12 spacy-loggers==1.0.5 spacy==3.8.18 srsly==2.5.6 tensorboardX==2.6.5
termcolor==3.3.0 thinc==8.3.14 typing-inspection==0.4.5 wasabi==1.1.3 wcwidth==0.9.4
weasel==1.0.1 allennlp==2.10.1 transformers==4.49.0 huggingface_hub==0.36.2 tokenizers==0.21.4"
target=(--python-version 3.12 --implementation cp --only-binary=:all:
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
        --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
# shellcheck disable=SC2086
python3 -m pip download -q --no-deps "${target[@]}" -d "$work/wheels" $packages
# Published as sources only; pure Python.
python3 -m pip wheel -q --no-deps -w "$work/wheels" fairscale==0.4.13 word2number==1.1
python3 -m pip install -q --no-deps --no-compile "${target[@]}" --target "$work/site" "$work"/wheels/*.whl
find "$work/site" -name "*.so" -exec strip --strip-unneeded {} +
find "$work/site/botocore/data" -mindepth 1 -maxdepth 1 -type d ! -name s3 ! -name sts -exec rm -rf {} +
find "$work/site" -type d \( -name tests -o -name test \) -prune -exec rm -rf {} +
tar -cJf "$out/site.tar.xz" -C "$work" site
tar -cJf "$out/data.tar.xz" -C "$data" BC2GM-IOBES/train.tsv BC5CDR-IOBES/train.tsv \
  NCBI-disease-IOBES/train.tsv JNLPBA/train.tsv pubtator/CDR_DevelopmentSet.PubTator.txt
du -sh "$out"/*
