using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Redswitch.Calls.Jobs;

/// <summary>A validated asp-call job (SPEC §3.1).</summary>
public sealed record CallJob(
    string DialId,
    string OrgId,
    string UserId,
    string CallProvider,
    string CallerNumber,
    string CalleeNumber,
    string CallerIdLegA,
    string CallerIdLegB,
    double? CreatedAt);

/// <summary>Result of parsing one raw job: either a job, or a cause (with the dial_id when it was valid).</summary>
public sealed record JobParseResult(CallJob? Job, string? Cause, string? DialId, string? OrgId, string? UserId);

public static class JobParser
{
    private static readonly JsonReaderOptions ReaderOptions = new() { AllowTrailingCommas = true, MaxDepth = 16 };

    // The job's fields in SPEC §3.1 order (the order their problems are reported in), each with its rule.
    private static readonly string[] Names = ["dial_id", "org_id", "user_id", "call_provider", "caller_number", "callee_number", "caller_id_lega", "caller_id_legb"];
    private static readonly byte[][] Utf8Names = [.. Names.Select(n => Encoding.UTF8.GetBytes(n))];
    private static readonly Func<string?, bool>[] Rules =
    [
        FieldRules.IsId, FieldRules.IsId, FieldRules.IsId, FieldRules.IsProvider,
        FieldRules.IsPhoneNumber, FieldRules.IsPhoneNumber, FieldRules.IsCallerId, FieldRules.IsCallerId,
    ];
    private static readonly string[] MissingCauses = [.. Names.Select(n => "missing " + n)];
    private static readonly string[] InvalidCauses = [.. Names.Select(n => "invalid " + n)];

    private enum Seen : byte { No, Value, Bad }

    /// <summary>
    /// One pass of a <see cref="Utf8JsonReader"/> over the job: no document is built, and only the values of the
    /// job's own fields become strings. A field given twice takes its last value, as JSON parsers do.
    /// </summary>
    public static JobParseResult Parse(string raw)
    {
        var max = raw.Length <= 340 ? Encoding.UTF8.GetMaxByteCount(raw.Length) : Encoding.UTF8.GetByteCount(raw);
        var rented = max <= 1024 ? null : ArrayPool<byte>.Shared.Rent(max);
        Span<byte> buffer = rented ?? stackalloc byte[1024];
        try
        {
            var utf8 = buffer[..Encoding.UTF8.GetBytes(raw, buffer)];
            return Parse(utf8);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: an escaped lone surrogate ("\ud800") is valid JSON but no string
            return new(null, "invalid json", null, null, null);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static JobParseResult Parse(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8, ReaderOptions);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            // a scalar or an array is valid JSON but no job; anything else is not JSON
            if (reader.TokenType is JsonTokenType.StartArray) reader.Skip();
            while (reader.Read()) { }
            return new(null, "invalid json", null, null, null);
        }

        Span<Seen> seen = stackalloc Seen[Names.Length];
        var values = new string?[Names.Length];
        string? type = null;
        var typeSeen = false;
        double? createdAt = null;
        var createdAtBad = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = -1;
            var isType = reader.ValueTextEquals("type"u8);
            var isCreatedAt = !isType && reader.ValueTextEquals("created_at"u8);
            if (!isType && !isCreatedAt)
                for (var i = 0; i < Utf8Names.Length; i++)
                    if (reader.ValueTextEquals(Utf8Names[i])) { field = i; break; }
            reader.Read();
            if (isType)
            {
                typeSeen = true;
                type = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (isCreatedAt)
            {
                createdAt = null;
                createdAtBad = false;
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var d)) createdAt = d;
                else if (reader.TokenType == JsonTokenType.String && double.TryParse(reader.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var ds)) createdAt = ds;
                else if (reader.TokenType != JsonTokenType.Null) createdAtBad = true;
            }
            else if (field >= 0)
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.String:
                        values[field] = reader.GetString();
                        seen[field] = Seen.Value;
                        break;
                    case JsonTokenType.Number when !reader.HasValueSequence && AllDigits(reader.ValueSpan):
                        values[field] = Encoding.ASCII.GetString(reader.ValueSpan);
                        seen[field] = Seen.Value;
                        break;
                    default:
                        values[field] = null;
                        seen[field] = Seen.Bad;
                        break;
                }
            }
            // unknown fields are ignored; nested values of any property are skipped (and checked)
            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray) reader.Skip();
        }
        // the whole input must be one JSON value
        while (reader.Read()) { }

        var dialId = FieldRules.IsId(values[0]) ? values[0] : null;
        var orgId = FieldRules.IsId(values[1]) ? values[1] : null;
        var userId = FieldRules.IsId(values[2]) ? values[2] : null;

        if (!typeSeen) return new(null, "missing type", dialId, orgId, userId);
        if (type != "asp-call") return new(null, "unknown type", dialId, orgId, userId);
        for (var i = 0; i < Names.Length; i++)
        {
            if (seen[i] == Seen.No) return new(null, MissingCauses[i], dialId, orgId, userId);
            if (!Rules[i](values[i])) return new(null, InvalidCauses[i], dialId, orgId, userId);
        }
        if (createdAtBad || createdAt is { } c && (double.IsNaN(c) || double.IsInfinity(c))) return new(null, "invalid created_at", dialId, orgId, userId);

        var job = new CallJob(values[0]!, values[1]!, values[2]!, values[3]!, values[4]!, values[5]!, values[6]!, values[7]!, createdAt);
        return new(job, null, dialId, orgId, userId);
    }

    private static bool AllDigits(ReadOnlySpan<byte> s)
    {
        foreach (var b in s) if (b is < (byte)'0' or > (byte)'9') return false;
        return true;
    }

    public static bool IsExpired(CallJob job, int maxAgeSeconds, DateTimeOffset now) =>
        job.CreatedAt is { } c && now.ToUnixTimeMilliseconds() / 1000.0 - c > maxAgeSeconds;
}
