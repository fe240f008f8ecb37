using System.Text;
using DotNetty.Buffers;
using Redswitch.Protocol.Framing;
using Redswitch.Protocol.Headers;

namespace Redswitch.Protocol.Messages;

/// <summary>
/// A frame FreeSWITCH sends: an outer header block and an optional body of exactly
/// <c>Content-Length</c> bytes. The frame's bytes are kept whole; everything else is derived.
/// </summary>
public abstract class EslMessage
{
    private readonly byte[] _frame;
    private readonly int _bodyOffset;
    private readonly int _bodyLength;
    private string? _bodyText;

    private protected EslMessage(byte[] frame, EslHeaders headers, int bodyOffset, int bodyLength)
    {
        _frame = frame;
        Headers = headers;
        _bodyOffset = bodyOffset;
        _bodyLength = bodyLength;
    }

    /// <summary>The outer headers (values URL-decoded, as libesl does).</summary>
    public EslHeaders Headers { get; }

    public string? ContentType => Headers[HeaderNames.ContentType];

    public ReadOnlyMemory<byte> Body => _frame.AsMemory(_bodyOffset, _bodyLength);

    public string BodyText => _bodyText ??= Encoding.UTF8.GetString(_frame, _bodyOffset, _bodyLength);

    /// <summary>The frame exactly as it travels on the wire.</summary>
    public ReadOnlyMemory<byte> Wire => _frame;

    public int WireLength => _frame.Length;

    internal byte[] Frame => _frame;

    internal int BodyOffset => _bodyOffset;

    public void WriteTo(IByteBuffer buffer) => buffer.WriteBytes(_frame);

    /// <summary>Parses one complete frame (header block, empty line, body).</summary>
    public static EslMessage FromFrame(byte[] frame)
    {
        var blockLength = EslFrameDecoder.FindHeaderBlockEnd(frame, out var terminator);
        if (blockLength < 0)
        {
            throw new ArgumentException("a frame needs a header block ending in an empty line", nameof(frame));
        }

        var headers = EslHeaders.Parse(frame, 0, blockLength, urlDecode: true, strict: true, skipTabs: true);
        var bodyOffset = blockLength + terminator;
        var contentLength = EslFrameDecoder.ParseContentLength(headers, int.MaxValue);
        if (bodyOffset + contentLength != frame.Length)
        {
            throw new ArgumentException($"Content-Length {contentLength} does not match the {frame.Length - bodyOffset} bytes after the header block", nameof(frame));
        }

        return Create(frame, headers, bodyOffset, (int)contentLength);
    }

    /// <summary>Builds a frame from outer headers written as given (no encoding) and a body.</summary>
    public static EslMessage Create(IEnumerable<(string Name, string Value)> headers, ReadOnlySpan<byte> body = default)
    {
        var builder = new FrameBuilder(256 + body.Length);
        foreach (var (name, value) in headers)
        {
            builder.Header(name, value);
        }

        return FromFrame(builder.EndHeaders().Raw(body).ToArray());
    }

    internal static EslMessage Create(byte[] frame, EslHeaders headers, int bodyOffset, int bodyLength)
    {
        var type = headers[HeaderNames.ContentType];
        if (type is null)
        {
            return new UnknownMessage(frame, headers, bodyOffset, bodyLength);
        }

        static bool Is(string type, string expected) => string.Equals(type, expected, StringComparison.OrdinalIgnoreCase);

        // Events first: they are nearly all the traffic.
        if (Is(type, ContentTypes.EventPlain))
        {
            return new EslEvent(frame, headers, bodyOffset, bodyLength, EslEventFormat.Plain);
        }

        if (Is(type, ContentTypes.EventJson))
        {
            return new EslEvent(frame, headers, bodyOffset, bodyLength, EslEventFormat.Json);
        }

        if (Is(type, ContentTypes.CommandReply))
        {
            return new CommandReply(frame, headers, bodyOffset, bodyLength);
        }

        if (Is(type, ContentTypes.ApiResponse))
        {
            return new ApiResponse(frame, headers, bodyOffset, bodyLength);
        }

        if (Is(type, ContentTypes.DisconnectNotice))
        {
            return new DisconnectNotice(frame, headers, bodyOffset, bodyLength);
        }

        if (Is(type, ContentTypes.AuthRequest))
        {
            return new AuthRequest(frame, headers, bodyOffset, bodyLength);
        }

        if (Is(type, ContentTypes.EventXml))
        {
            return new EslEvent(frame, headers, bodyOffset, bodyLength, EslEventFormat.Xml);
        }

        if (Is(type, ContentTypes.LogData))
        {
            return new LogData(frame, headers, bodyOffset, bodyLength);
        }

        return Is(type, ContentTypes.RudeRejection)
            ? new RudeRejection(frame, headers, bodyOffset, bodyLength)
            : new UnknownMessage(frame, headers, bodyOffset, bodyLength);
    }

    public override string ToString() => $"{GetType().Name} ({ContentType}, {WireLength} bytes)";
}
