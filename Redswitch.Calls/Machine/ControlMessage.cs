using System.Text.Json;

namespace Redswitch.Calls;

/// <summary>
/// One message from the call's channel (SPEC §5), parsed but not yet judged: the machine decides what a valid
/// message does in the call's state. <see cref="Invalid"/> is the cause when the message could not be read at all.
/// </summary>
public sealed record ControlMessage(string Type, string? Id)
{
    /// <summary>"invalid json" or "missing type": answered with type "unknown".</summary>
    public string? Invalid { get; init; }
    public string? PhoneNumber { get; init; }
    public bool PhoneNumberBad { get; init; }
    public string? CallerId { get; init; }
    public bool CallerIdBad { get; init; }

    /// <summary>What we publish ourselves comes back on the channel: not a control message.</summary>
    public bool IsOwnPublication => Invalid is null && Type is "call-start" or "answer-event" or "hangup-event" or "failure" or "ack";

    private static readonly JsonDocumentOptions Options = new() { AllowTrailingCommas = true, MaxDepth = 16 };

    public static ControlMessage Parse(string payload)
    {
        try
        {
            using var doc = JsonDocument.Parse(payload, Options);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return new("unknown", null) { Invalid = "invalid json" };
            string? id = root.TryGetProperty("id", out var idEl) ? idEl.GetRawText() : null;
            if (!root.TryGetProperty("type", out var typeEl) || typeEl.ValueKind != JsonValueKind.String)
                return new("unknown", id) { Invalid = "missing type" };
            var (phone, phoneBad) = Number(root, "phone_number");
            var (callerId, callerIdBad) = Number(root, "caller_id");
            return new(typeEl.GetString()!, id) { PhoneNumber = phone, PhoneNumberBad = phoneBad, CallerId = callerId, CallerIdBad = callerIdBad };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: an escaped lone surrogate, valid JSON but no string
            return new("unknown", null) { Invalid = "invalid json" };
        }
    }

    /// <summary>A string, or a JSON number written with digits only (producers send numbers unquoted).</summary>
    private static (string? Value, bool Bad) Number(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var el)) return (null, false);
        if (el.ValueKind == JsonValueKind.String) return (el.GetString(), false);
        if (el.ValueKind == JsonValueKind.Number && el.GetRawText().All(char.IsAsciiDigit)) return (el.GetRawText(), false);
        return (null, true);
    }
}
