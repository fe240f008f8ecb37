#!/usr/bin/env bash
# Builds the 64 MiB decode corpus from the captures and runs the decode figures on it.
#   Redswitch.Bench/make-corpus.sh            -> bench-data/corpus.bin, then decode (full and split)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench-data
dotnet build Redswitch.Bench -c Release -v q -nologo >/dev/null
dotnet run --no-build -c Release --project Redswitch.Bench -- corpus bench-data/corpus.bin --mib 64
dotnet run --no-build -c Release --project Redswitch.Bench -- decode bench-data/corpus.bin
dotnet run --no-build -c Release --project Redswitch.Bench -- decode bench-data/corpus.bin --split-only
