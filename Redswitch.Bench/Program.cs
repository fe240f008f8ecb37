using BenchmarkDotNet.Running;
using Redswitch.Bench.Codec;
using Redswitch.Bench.Load;

// Redswitch.Bench: BenchmarkDotNet for the codec, plain commands for whole-stream figures.
//   corpus OUT            build the decode corpus from the captures (64 MiB)
//   decode FILE           full decode of a FreeSWITCH→app byte stream, one JSON line
//   bdn [BDN args]        the BenchmarkDotNet suites (decode, header access, encode)
//   load [options]        whole-call load: redis-server + simulator + server processes
return args.FirstOrDefault() switch
{
    "corpus" => CorpusCommand.Run(args[1..]),
    "decode" => DecodeCommand.Run(args[1..]),
    "bdn" => RunBenchmarks(args[1..]),
    "load" => await LoadCommand.RunAsync(args[1..]),
    _ => Usage(),
};

static int RunBenchmarks(string[] args)
{
    BenchmarkSwitcher.FromAssembly(typeof(CodecBenchmarks).Assembly).Run(args);
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("usage: Redswitch.Bench corpus OUT | decode FILE [--split-only] | bdn [--filter *] | load [--help]");
    return 2;
}
