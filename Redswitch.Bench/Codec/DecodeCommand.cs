using System.Diagnostics;
using System.Text.Json;
using DotNetty.Buffers;
using DotNetty.Transport.Channels.Embedded;
using Redswitch.Protocol.Framing;
using Redswitch.Protocol.Messages;

namespace Redswitch.Bench.Codec;

/// <summary>
/// <c>decode FILE [--split-only] [--passes N]</c>: feeds a raw file of FreeSWITCH→app bytes
/// through the server's decoder in 64 KiB chunks and prints one JSON line. Without
/// --split-only every header name and value of every event is materialised (decoded).
/// </summary>
public static class DecodeCommand
{
    private const int ChunkSize = 64 * 1024;

    public static int Run(string[] args)
    {
        if (args.Length < 1 || !File.Exists(args[0]))
        {
            Console.Error.WriteLine("usage: decode FILE [--split-only] [--passes N]   (make FILE with: corpus FILE)");
            return 2;
        }

        var data = File.ReadAllBytes(args[0]);
        var splitOnly = args.Contains("--split-only");
        var passes = args.SkipWhile(a => a != "--passes").Skip(1).Select(int.Parse).FirstOrDefault(10);

        // Warm-up: a pass takes ~0.1 s, shorter than tiered JIT needs to reach optimised code.
        for (var i = 0; i < 3; i++)
        {
            Run(data, splitOnly);
        }
        Result best = default;
        for (var i = 0; i < passes; i++)
        {
            var r = Run(data, splitOnly);
            if (i == 0 || r.Seconds < best.Seconds)
            {
                best = r;
            }
        }

        Console.WriteLine(JsonSerializer.Serialize(new
        {
            mode = splitOnly ? "split" : "full",
            bytes = data.LongLength,
            frames = best.Frames,
            events = best.Events,
            headers = best.Headers,
            seconds = Math.Round(best.Seconds, 4),
            mb_per_s = Math.Round(data.LongLength / best.Seconds / 1e6, 1),
            allocated_bytes = best.Allocated,
            allocated_per_input_byte = Math.Round((double)best.Allocated / data.LongLength, 3),
            passes,
            cpu = Environment.ProcessorCount,
            runtime = Environment.Version.ToString(),
        }));
        return 0;
    }

    private static Result Run(byte[] data, bool splitOnly)
    {
        var channel = new EmbeddedChannel(new EslFrameDecoder());
        long frames = 0, events = 0, headers = 0, checksum = 0;
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        for (var offset = 0; offset < data.Length; offset += ChunkSize)
        {
            channel.WriteInbound(Unpooled.WrappedBuffer(data, offset, Math.Min(ChunkSize, data.Length - offset)));
            while (channel.ReadInbound<EslMessage>() is { } message)
            {
                frames++;
                if (splitOnly || message is not EslEvent e)
                {
                    continue;
                }

                events++;
                var list = e.EventHeaders;
                foreach (var header in list)
                {
                    checksum += header.Name.Length + header.Value.Length;
                }

                headers += list.Count;
            }
        }

        clock.Stop();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        channel.FinishAndReleaseAll();
        GC.KeepAlive(checksum);
        return new Result(frames, events, headers, clock.Elapsed.TotalSeconds, allocated);
    }

    private readonly record struct Result(long Frames, long Events, long Headers, double Seconds, long Allocated);
}
