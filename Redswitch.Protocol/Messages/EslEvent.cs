using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Xml;
using Redswitch.Protocol.Framing;
using Redswitch.Protocol.Headers;

namespace Redswitch.Protocol.Messages;

/// <summary>
/// An event (<c>text/event-plain</c>, <c>-json</c> or <c>-xml</c>). Its inner headers are parsed
/// on first access. The serialiser's own inner Content-Length is framing, not a header: it is
/// left out of <see cref="EventHeaders"/>, and the bytes after it are <see cref="EventBody"/>.
/// </summary>
public sealed class EslEvent : EslMessage
{
    private const string ArrayPrefix = "ARRAY::";

    private Parsed? _parsed;

    internal EslEvent(byte[] frame, EslHeaders headers, int bodyOffset, int bodyLength, EslEventFormat format)
        : base(frame, headers, bodyOffset, bodyLength)
    {
        Format = format;
    }

    public EslEventFormat Format { get; }

    public EslHeaders EventHeaders => Inner.Headers;

    public string? EventName => EventHeaders[HeaderNames.EventName];

    public string? this[string name] => EventHeaders[name];

    public string? UniqueId => EventHeaders[HeaderNames.UniqueId];

    public string? JobUuid => EventHeaders[HeaderNames.JobUuid];

    /// <summary>The inner body (e.g. a BACKGROUND_JOB's command output); empty when there is none.</summary>
    public ReadOnlyMemory<byte> EventBody => Inner.Body;

    /// <summary>The inner body as text, or null when the event has none.</summary>
    public string? EventBodyText => Inner.Body.IsEmpty ? null : Inner.BodyText ??= Encoding.UTF8.GetString(Inner.Body.Span);

    private Parsed Inner => _parsed ??= Format switch
    {
        EslEventFormat.Plain => ParsePlain(),
        EslEventFormat.Json => ParseJson(Body.Span),
        _ => ParseXml(BodyText),
    };

    /// <summary>
    /// Builds an event. Headers are written in the order given, values raw (plain output
    /// URL-encodes them as FreeSWITCH does; an <c>ARRAY::a|:b</c> value becomes a JSON array).
    /// </summary>
    public static EslEvent Create(EslEventFormat format, IEnumerable<KeyValuePair<string, string>> headers, string? body = null)
    {
        var bodyBytes = string.IsNullOrEmpty(body) ? Array.Empty<byte>() : Encoding.UTF8.GetBytes(body);
        var inner = format switch
        {
            EslEventFormat.Plain => SerializePlain(headers, bodyBytes),
            EslEventFormat.Json => SerializeJson(headers, body, bodyBytes.Length),
            _ => SerializeXml(headers, body, bodyBytes.Length),
        };
        var frame = new FrameBuilder(inner.Length + 64)
            .Header(HeaderNames.ContentLength, inner.Length)
            .Header(HeaderNames.ContentType, format switch
            {
                EslEventFormat.Plain => ContentTypes.EventPlain,
                EslEventFormat.Json => ContentTypes.EventJson,
                _ => ContentTypes.EventXml,
            })
            .EndHeaders()
            .Raw(inner)
            .ToArray();
        return (EslEvent)FromFrame(frame);
    }

    private static byte[] SerializePlain(IEnumerable<KeyValuePair<string, string>> headers, byte[] body)
    {
        var builder = new FrameBuilder(2048 + body.Length);
        foreach (var (name, value) in headers)
        {
            // FreeSWITCH never stores an empty value: adding one deletes the header.
            if (value.Length > 0)
            {
                builder.Header(name, value, urlEncode: true);
            }
        }

        if (body.Length > 0)
        {
            builder.Header(HeaderNames.ContentLength, body.Length).EndHeaders().Raw(body);
        }
        else
        {
            builder.EndHeaders();
        }

        return builder.ToArray();
    }

    private static byte[] SerializeJson(IEnumerable<KeyValuePair<string, string>> headers, string? body, int bodyLength)
    {
        var output = new ArrayBufferWriter<byte>(4096);
        var first = true;
        Append(output, "{");
        foreach (var (name, value) in headers)
        {
            if (value.Length == 0)
            {
                continue;
            }

            Append(output, first ? "\"" : ",\"");
            first = false;
            AppendJsonString(output, name);
            Append(output, "\":");
            if (value.StartsWith(ArrayPrefix, StringComparison.Ordinal))
            {
                Append(output, "[");
                var items = value[ArrayPrefix.Length..].Split("|:");
                for (var i = 0; i < items.Length; i++)
                {
                    Append(output, i == 0 ? "\"" : ",\"");
                    AppendJsonString(output, items[i]);
                    Append(output, "\"");
                }

                Append(output, "]");
            }
            else
            {
                Append(output, "\"");
                AppendJsonString(output, value);
                Append(output, "\"");
            }
        }

        if (!string.IsNullOrEmpty(body))
        {
            Append(output, first ? "\"" : ",\"");
            Append(output, $"Content-Length\":\"{bodyLength}\",\"_body\":\"");
            AppendJsonString(output, body);
            Append(output, "\"");
        }

        Append(output, "}");
        return output.WrittenSpan.ToArray();
    }

    /// <summary>
    /// switch_event_xmlize's shape: <c>&lt;event&gt;</c>, a <c>&lt;headers&gt;</c> element with one
    /// child per header (value URL-encoded, then XML-escaped; one child per array item), then
    /// Content-Length and body when there is one. No capture holds an XML event, so the
    /// whitespace follows the reference's description (two-space indent, one element a line).
    /// </summary>
    private static byte[] SerializeXml(IEnumerable<KeyValuePair<string, string>> headers, string? body, int bodyLength)
    {
        var xml = new StringBuilder(4096).Append("<event>\n  <headers>\n");
        foreach (var (name, value) in headers)
        {
            if (value.Length == 0)
            {
                continue;
            }

            var items = value.StartsWith(ArrayPrefix, StringComparison.Ordinal) ? value[ArrayPrefix.Length..].Split("|:") : new[] { value };
            foreach (var item in items)
            {
                xml.Append("    <").Append(name).Append('>').Append(XmlText(EslUrlEncoding.Encode(item))).Append("</").Append(name).Append(">\n");
            }
        }

        xml.Append("  </headers>\n");
        if (!string.IsNullOrEmpty(body))
        {
            xml.Append("  <Content-Length>").Append(bodyLength).Append("</Content-Length>\n  <body>")
                .Append(XmlText(body)).Append("</body>\n");
        }

        return Encoding.UTF8.GetBytes(xml.Append("</event>\n").ToString());
    }

    /// <summary>switch_xml_ampencode for element text: &amp; &lt; &gt; and CR (so it survives XML readers); quotes stay.</summary>
    private static string XmlText(string text)
    {
        if (text.AsSpan().IndexOfAny("&<>\r") < 0)
        {
            return text;
        }

        return text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\r", "&#xD;");
    }

    /// <summary>cJSON's escaping: quote, backslash and control characters; UTF-8 and '/' pass.</summary>
    private static void AppendJsonString(ArrayBufferWriter<byte> output, string value)
    {
        var sb = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < 0x20)
                    {
                        sb.Append("\\u").Append(((int)c).ToString("x4"));
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        Append(output, sb.ToString());
    }

    private static void Append(ArrayBufferWriter<byte> output, string text)
    {
        var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        output.Advance(Encoding.UTF8.GetBytes(text, span));
    }

    private Parsed ParsePlain()
    {
        var headers = EslHeaders.Parse(Frame, BodyOffset, Body.Length, urlDecode: true, strict: false, skipTabs: true, stopAtEmptyLine: true, out var consumed);
        if (headers.Count > 0 && headers.NameIs(headers.Count - 1, HeaderNames.ContentLength))
        {
            headers = headers.Take(headers.Count - 1);
        }

        return new Parsed(headers, Body[consumed..]);
    }

    private static Parsed ParseJson(ReadOnlySpan<byte> json)
    {
        var pairs = new List<KeyValuePair<string, string>>(128);
        string? body = null;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return new Parsed(EslHeaders.Empty, ReadOnlyMemory<byte>.Empty);
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.ValueIsEscaped ? reader.GetString()! : StringPool.Names.Get(reader.ValueSpan);
                reader.Read();
                var value = ReadJsonValue(ref reader);
                if (name == "_body")
                {
                    body = value;
                    if (pairs.Count > 0 && pairs[^1].Key == HeaderNames.ContentLength)
                    {
                        pairs.RemoveAt(pairs.Count - 1);
                    }
                }
                else
                {
                    pairs.Add(new(name, value));
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Content never fails decoding: keep what was readable.
        }

        var bodyBytes = body is null ? ReadOnlyMemory<byte>.Empty : Encoding.UTF8.GetBytes(body);
        return new Parsed(EslHeaders.FromValues(pairs), bodyBytes) { BodyText = body };
    }

    private static string ReadJsonValue(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return reader.ValueIsEscaped ? reader.GetString()! : StringPool.Values.Get(reader.ValueSpan);
            case JsonTokenType.StartArray:
                var items = new List<string>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    items.Add(ReadJsonValue(ref reader));
                }

                return ArrayPrefix + string.Join("|:", items);
            case JsonTokenType.StartObject:
                reader.Skip();
                return string.Empty;
            default:
                return Encoding.UTF8.GetString(reader.ValueSpan);
        }
    }

    private static Parsed ParseXml(string xml)
    {
        var pairs = new List<KeyValuePair<string, string>>(128);
        string? body = null;
        try
        {
            using var reader = XmlReader.Create(new StringReader(xml), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null });
            var depth = -1;
            reader.Read();
            while (!reader.EOF)
            {
                if (reader.NodeType != XmlNodeType.Element)
                {
                    reader.Read();
                }
                else if (reader.Name == "headers")
                {
                    depth = reader.Depth + 1;
                    reader.Read();
                }
                else if (reader.Depth == depth)
                {
                    var name = reader.Name;
                    pairs.Add(new(name, EslUrlEncoding.Decode(Encoding.UTF8.GetBytes(reader.ReadElementContentAsString()))));
                }
                else if (reader.Name == "body")
                {
                    body = reader.ReadElementContentAsString();
                }
                else
                {
                    reader.Read();
                }
            }
        }
        catch (XmlException)
        {
            // Content never fails decoding: keep what was readable.
        }

        var bodyBytes = body is null ? ReadOnlyMemory<byte>.Empty : Encoding.UTF8.GetBytes(body);
        return new Parsed(EslHeaders.FromValues(pairs), bodyBytes) { BodyText = body };
    }

    private sealed record Parsed(EslHeaders Headers, ReadOnlyMemory<byte> Body)
    {
        public string? BodyText { get; set; }
    }
}
