namespace Redswitch.Simulator.Core;

/// <summary>An event as the simulated switch fires it: ordered raw headers (first <c>Event-Name</c>) and an optional body.</summary>
public sealed class SimEvent
{
    public SimEvent(string name, List<KeyValuePair<string, string>> headers, string? body)
    {
        Name = name;
        Headers = headers;
        Body = body;
    }

    public string Name { get; }
    public List<KeyValuePair<string, string>> Headers { get; }
    public string? Body { get; }

    /// <summary>First value of a header (case-insensitive name), or null.</summary>
    public string? Get(string name)
    {
        foreach (var h in Headers)
            if (string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)) return h.Value;
        return null;
    }

    public string? UniqueId => Get("Unique-ID");

    /// <summary>Set by the switch: the channel this event belongs to (null for BACKGROUND_JOB, HEARTBEAT…).</summary>
    public string? ChannelUuid { get; init; }

    /// <summary>Lazily serialised wire forms, shared by every connection that receives the event.</summary>
    internal object? PlainCache;
    internal object? JsonCache;
    internal object? XmlCache;
}
