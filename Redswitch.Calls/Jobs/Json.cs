using System.Text;

namespace Redswitch.Calls.Jobs;

/// <summary>
/// Writes the published messages byte for byte like the original service (Python json.dumps defaults:
/// ", " and ": " separators, ASCII-only output), keys in the order SPEC §4/§5 show them.
/// </summary>
public static class Json
{
    public static string CallStart(string dialId) => $"{{\"type\": \"call-start\", \"dial_id\": {Str(dialId)}}}";
    public static string Answer(int side) => $"{{\"type\": \"answer-event\", \"side\": \"{side}\"}}";
    public static string Hangup(int side, string cause) => $"{{\"type\": \"hangup-event\", \"side\": \"{side}\", \"cause\": {Str(cause)}}}";
    public static string JobFailure(string cause) => $"{{\"type\": \"failure\", \"cause\": {Str(cause)}}}";

    public static string Ack(string evt, string? rawId) =>
        rawId is null ? $"{{\"type\": \"ack\", \"event\": {Str(evt)}}}" : $"{{\"type\": \"ack\", \"event\": {Str(evt)}, \"id\": {rawId}}}";

    public static string ControlFailure(string evt, string cause, string? rawId) =>
        rawId is null
            ? $"{{\"type\": \"failure\", \"event\": {Str(evt)}, \"cause\": {Str(cause)}}}"
            : $"{{\"type\": \"failure\", \"event\": {Str(evt)}, \"cause\": {Str(cause)}, \"id\": {rawId}}}";

    public static string Str(string s)
    {
        var needs = false;
        foreach (var ch in s)
            if (ch < 0x20 || ch > 0x7e || ch is '"' or '\\') { needs = true; break; }
        if (!needs) return "\"" + s + "\"";
        var sb = new StringBuilder(s.Length + 8).Append('"');
        foreach (var ch in s)
        {
            switch (ch)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (ch < 0x20 || ch > 0x7e) sb.Append("\\u").Append(((int)ch).ToString("x4"));
                    else sb.Append(ch);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}
