using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Redswitch.Server.Logging;

/// <summary>
/// One JSON log line (SPEC §10): <c>timestamp</c>, <c>level</c>, <c>category</c>, <c>dial_id</c> when the entry
/// concerns a call, <c>message</c>, <c>exception</c> when there is one, and <c>fields</c> (the message's named
/// arguments). Shared by <see cref="JsonLineFormatter"/> and the start-up failure lines, so both look alike.
/// </summary>
public static class JsonLogLine
{
    // Log lines go to collectors, never into HTML: "→" and quotes stay readable; control characters are still escaped.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The level's name in the line: the short lower-case names log collectors recognise.</summary>
    public static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "error",
        LogLevel.Critical => "critical",
        _ => "none",
    };

    /// <summary>UTC, ISO-8601 with milliseconds: <c>2025-01-31T12:00:00.123Z</c>.</summary>
    public static string Timestamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>
    /// The line, without its newline. <paramref name="fields"/> are written except <c>{OriginalFormat}</c> and the
    /// dial_id (already at the top). The exception's stack is written only at Error and above: a warning's
    /// exception is an expected condition its type and message describe; an error is a fault someone must trace.
    /// </summary>
    public static string Format(DateTimeOffset at, LogLevel level, string category, string? message, string? dialId, Exception? exception,
        IEnumerable<KeyValuePair<string, object?>>? fields = null)
    {
        // A buffer per line (no thread-static reuse): a value's ToString may itself log.
        var buffer = new ArrayBufferWriter<byte>(512);
        using var w = new Utf8JsonWriter(buffer, WriterOptions);

        w.WriteStartObject();
        w.WriteString("timestamp", Timestamp(at));
        w.WriteString("level", LevelName(level));
        w.WriteString("category", category);
        if (!string.IsNullOrEmpty(dialId)) w.WriteString("dial_id", dialId);
        w.WriteString("message", message ?? "");
        if (exception is not null)
        {
            w.WriteStartObject("exception");
            w.WriteString("type", exception.GetType().FullName);
            // inner causes too (a library's warning often says what happened only there), as text logs show them
            var text = exception.Message;
            for (var inner = exception.InnerException; inner is not null; inner = inner.InnerException)
                text += $" ---> {inner.GetType().Name}: {inner.Message}";
            w.WriteString("message", text);
            if (level >= LogLevel.Error) w.WriteString("stack", exception.ToString());
            w.WriteEndObject();
        }
        if (fields is not null)
        {
            var open = false;
            HashSet<string>? written = null;
            foreach (var (key, value) in fields)
            {
                if (key == "{OriginalFormat}" || IsDialIdKey(key)) continue;
                // a template naming a value twice gives it twice: one key in JSON
                if (!(written ??= new HashSet<string>(StringComparer.Ordinal)).Add(key)) continue;
                if (!open)
                {
                    w.WriteStartObject("fields");
                    open = true;
                }
                w.WritePropertyName(key);
                WriteValue(w, value);
            }
            if (open) w.WriteEndObject();
        }
        w.WriteEndObject();
        w.Flush();
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>A structured-logging name that holds a call's dial_id: <c>dial_id</c>, <c>DialId</c>, <c>dialId</c>.</summary>
    public static bool IsDialIdKey(string key) =>
        key.Equals("dial_id", StringComparison.OrdinalIgnoreCase) || key.Equals("DialId", StringComparison.OrdinalIgnoreCase);

    /// <summary>The dial_id among structured values, if one is there and not empty.</summary>
    public static string? FindDialId(IEnumerable<KeyValuePair<string, object?>> values)
    {
        foreach (var (key, value) in values)
            if (IsDialIdKey(key) && value is not null && Convert.ToString(value, CultureInfo.InvariantCulture) is { Length: > 0 } id)
                return id;
        return null;
    }

    private static void WriteValue(Utf8JsonWriter w, object? value)
    {
        switch (value)
        {
            case null: w.WriteNullValue(); break;
            case string s: w.WriteStringValue(s); break;
            case bool b: w.WriteBooleanValue(b); break;
            case int i: w.WriteNumberValue(i); break;
            case long l: w.WriteNumberValue(l); break;
            case uint ui: w.WriteNumberValue(ui); break;
            case ulong ul: w.WriteNumberValue(ul); break;
            case short sh: w.WriteNumberValue(sh); break;
            case ushort us: w.WriteNumberValue(us); break;
            case byte by: w.WriteNumberValue(by); break;
            case sbyte sb: w.WriteNumberValue(sb); break;
            case decimal m: w.WriteNumberValue(m); break;
            case double d when double.IsFinite(d): w.WriteNumberValue(d); break;
            case float f when float.IsFinite(f): w.WriteNumberValue(f); break;
            case DateTime dt: w.WriteStringValue(dt.ToString("O", CultureInfo.InvariantCulture)); break;
            case DateTimeOffset dto: w.WriteStringValue(dto.ToString("O", CultureInfo.InvariantCulture)); break;
            // As the message renders it: items joined by ", ".
            case IEnumerable items:
                w.WriteStringValue(string.Join(", ", items.Cast<object?>().Select(o => Convert.ToString(o, CultureInfo.InvariantCulture) ?? "(null)")));
                break;
            default: w.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture)); break;
        }
    }
}
