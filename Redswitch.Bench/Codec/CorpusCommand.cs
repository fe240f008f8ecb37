using System.Text.Json;

namespace Redswitch.Bench.Codec;

/// <summary>
/// <c>corpus OUT [--captures DIR] [--mib N]</c>: the captures' FreeSWITCH→app byte streams, each
/// connection's in order, concatenated and repeated (whole, so the file ends on a frame
/// boundary) until it holds at least N MiB (default 64).
/// </summary>
public static class CorpusCommand
{
    public static int Run(string[] args)
    {
        if (args.Length < 1)
        {
            Console.Error.WriteLine("usage: corpus OUT [--captures DIR] [--mib N]");
            return 2;
        }

        var dir = Option(args, "--captures") ?? DefaultCaptures();
        var mib = int.Parse(Option(args, "--mib") ?? "64");
        var unit = Unit(dir);
        var target = (long)mib * 1024 * 1024;
        using var output = File.Create(args[0]);
        long written = 0;
        while (written < target)
        {
            output.Write(unit);
            written += unit.Length;
        }

        Console.WriteLine(JsonSerializer.Serialize(new { file = args[0], bytes = written, unit_bytes = unit.Length, captures = dir }));
        return 0;
    }

    /// <summary>One copy of every capture's FreeSWITCH→app bytes, connection by connection.</summary>
    public static byte[] Unit(string capturesDir)
    {
        var unit = new MemoryStream();
        foreach (var file in Directory.GetFiles(capturesDir, "*.jsonl").Order())
        {
            var streams = new Dictionary<string, MemoryStream>();
            var order = new List<string>();
            foreach (var line in File.ReadLines(file))
            {
                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }

                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                if (root.GetProperty("from").GetString() != "fs")
                {
                    continue;
                }

                var conn = root.GetProperty("conn").GetString()!;
                if (!streams.TryGetValue(conn, out var stream))
                {
                    streams[conn] = stream = new MemoryStream();
                    order.Add(conn);
                }

                stream.Write(Convert.FromBase64String(root.GetProperty("b64").GetString()!));
            }

            foreach (var conn in order)
            {
                streams[conn].WriteTo(unit);
            }
        }

        return unit.ToArray();
    }

    public static string DefaultCaptures()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "Redswitch.Tests", "Captures");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("Redswitch.Tests/Captures not found above " + AppContext.BaseDirectory);
    }

    private static string? Option(string[] args, string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
}
