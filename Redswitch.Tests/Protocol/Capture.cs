using System.Text.Json;

namespace Redswitch.Tests.Protocol;

/// <summary>One recorded TCP read or write of a capture (Captures/*.jsonl).</summary>
public sealed record CaptureRecord(string Conn, double T, string From, byte[] Bytes);

/// <summary>Loads the byte-exact transcripts recorded from a real FreeSWITCH.</summary>
public static class Capture
{
    public static string Directory => Path.Combine(TestContext.CurrentContext.TestDirectory, "Captures");

    public static IEnumerable<string> Names =>
        System.IO.Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Captures"), "*.jsonl")
            .Select(Path.GetFileNameWithoutExtension)
            .Order()
            .Select(n => n!);

    public static IReadOnlyList<CaptureRecord> Load(string name)
    {
        var records = new List<CaptureRecord>();
        foreach (var line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Captures", name + ".jsonl")))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            records.Add(new CaptureRecord(
                root.GetProperty("conn").GetString()!,
                root.GetProperty("t").GetDouble(),
                root.GetProperty("from").GetString()!,
                Convert.FromBase64String(root.GetProperty("b64").GetString()!)));
        }

        return records;
    }

    /// <summary>Every connection's bytes in one direction, concatenated in order.</summary>
    public static IReadOnlyDictionary<string, byte[]> Streams(string name, string from) =>
        Load(name).Where(r => r.From == from)
            .GroupBy(r => r.Conn)
            .ToDictionary(g => g.Key, g => g.SelectMany(r => r.Bytes).ToArray());

    /// <summary>The reads of one connection in one direction, as the OS returned them.</summary>
    public static IReadOnlyList<byte[]> Reads(string name, string conn, string from) =>
        Load(name).Where(r => r.Conn == conn && r.From == from).Select(r => r.Bytes).ToList();
}
