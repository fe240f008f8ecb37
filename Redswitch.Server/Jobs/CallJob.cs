using System.Globalization;
using System.Text.Json;

namespace Redswitch.Server.Jobs;

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
    private static readonly JsonDocumentOptions Options = new() { AllowTrailingCommas = true, MaxDepth = 16 };

    private static readonly (string Name, Func<string?, bool> Rule)[] Fields =
    [
        ("dial_id", FieldRules.IsId),
        ("org_id", FieldRules.IsId),
        ("user_id", FieldRules.IsId),
        ("call_provider", FieldRules.IsProvider),
        ("caller_number", FieldRules.IsPhoneNumber),
        ("callee_number", FieldRules.IsPhoneNumber),
        ("caller_id_lega", FieldRules.IsCallerId),
        ("caller_id_legb", FieldRules.IsCallerId),
    ];

    public static JobParseResult Parse(string raw)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(raw, Options); }
        catch (JsonException) { return new(null, "invalid json", null, null, null); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return new(null, "invalid json", null, null, null);

            var values = new Dictionary<string, string?>(StringComparer.Ordinal);
            var bad = new HashSet<string>(StringComparer.Ordinal);
            string? type = null;
            var typeSeen = false;
            double? createdAt = null;
            var createdAtBad = false;
            foreach (var prop in root.EnumerateObject())
            {
                if (prop.Name == "type")
                {
                    typeSeen = true;
                    type = prop.Value.ValueKind == JsonValueKind.String ? prop.Value.GetString() : null;
                    continue;
                }
                if (prop.Name == "created_at")
                {
                    createdAt = null;
                    createdAtBad = false;
                    if (prop.Value.ValueKind == JsonValueKind.Number && prop.Value.TryGetDouble(out var d)) createdAt = d;
                    else if (prop.Value.ValueKind == JsonValueKind.String && double.TryParse(prop.Value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var ds)) createdAt = ds;
                    else if (prop.Value.ValueKind != JsonValueKind.Null) createdAtBad = true;
                    continue;
                }
                if (Array.FindIndex(Fields, f => f.Name == prop.Name) < 0) continue; // unknown fields are ignored
                bad.Remove(prop.Name);
                switch (prop.Value.ValueKind)
                {
                    case JsonValueKind.String: values[prop.Name] = prop.Value.GetString(); break;
                    case JsonValueKind.Number when prop.Value.GetRawText().All(char.IsAsciiDigit): values[prop.Name] = prop.Value.GetRawText(); break;
                    default: values[prop.Name] = null; bad.Add(prop.Name); break;
                }
            }

            values.TryGetValue("dial_id", out var dialId);
            if (!FieldRules.IsId(dialId)) dialId = null;
            values.TryGetValue("org_id", out var orgId);
            if (!FieldRules.IsId(orgId)) orgId = null;
            values.TryGetValue("user_id", out var userId);
            if (!FieldRules.IsId(userId)) userId = null;

            if (!typeSeen) return new(null, "missing type", dialId, orgId, userId);
            if (type != "asp-call") return new(null, "unknown type", dialId, orgId, userId);
            foreach (var (name, rule) in Fields)
            {
                if (!values.TryGetValue(name, out var v) && !bad.Contains(name)) return new(null, $"missing {name}", dialId, orgId, userId);
                if (!rule(v)) return new(null, $"invalid {name}", dialId, orgId, userId);
            }
            if (createdAtBad || createdAt is { } c && (double.IsNaN(c) || double.IsInfinity(c))) return new(null, "invalid created_at", dialId, orgId, userId);

            var job = new CallJob(values["dial_id"]!, values["org_id"]!, values["user_id"]!, values["call_provider"]!,
                values["caller_number"]!, values["callee_number"]!, values["caller_id_lega"]!, values["caller_id_legb"]!, createdAt);
            return new(job, null, dialId, orgId, userId);
        }
    }

    public static bool IsExpired(CallJob job, int maxAgeSeconds, DateTimeOffset now) =>
        job.CreatedAt is { } c && now.ToUnixTimeMilliseconds() / 1000.0 - c > maxAgeSeconds;
}
