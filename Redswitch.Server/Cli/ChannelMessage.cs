using System.Text.Json;

namespace Redswitch.Server.Cli;

/// <summary>What a verb needs to know of a message on a call's channel (SPEC §4, §5); anything unreadable is just printed.</summary>
internal readonly record struct ChannelMessage(string Raw, string? Type, string? Side, string? Event, string? Id, string? Cause)
{
    public static ChannelMessage Parse(string raw)
    {
        try
        {
            using var doc = JsonDocument.Parse(raw);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return new(raw, null, null, null, null, null);
            string? S(string name) => doc.RootElement.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            return new(raw, S("type"), S("side"), S("event"), S("id"), S("cause"));
        }
        catch (JsonException)
        {
            return new(raw, null, null, null, null, null);
        }
    }

    /// <summary>A reply of Redswitch to a control message (as opposed to a call event or a job's failure).</summary>
    public bool IsReply => Type == "ack" || (Type == "failure" && Event is not null);

    /// <summary>The job itself failed (SPEC §3.1, §4): no call comes of it.</summary>
    public bool IsJobFailure => Type == "failure" && Event is null;
}
