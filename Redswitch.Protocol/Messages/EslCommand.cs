using System.Text;
using DotNetty.Buffers;
using Redswitch.Protocol.Framing;
using Redswitch.Protocol.Headers;

namespace Redswitch.Protocol.Messages;

/// <summary>
/// A command a client sends: the command line, header lines, an empty line, and a body of
/// <c>Content-Length</c> bytes when that header is set. FreeSWITCH takes header values raw.
/// </summary>
public sealed class EslCommand
{
    private readonly byte[] _frame;
    private readonly int _bodyOffset;
    private readonly int _bodyLength;

    internal EslCommand(byte[] frame, string line, EslHeaders headers, int bodyOffset, int bodyLength)
    {
        _frame = frame;
        Line = line;
        Headers = headers;
        _bodyOffset = bodyOffset;
        _bodyLength = bodyLength;
        var space = line.IndexOf(' ');
        Verb = (space < 0 ? line : line[..space]).ToLowerInvariant();
        Arguments = space < 0 ? string.Empty : line[(space + 1)..];
    }

    /// <summary>The first line, without its line end.</summary>
    public string Line { get; }

    /// <summary>The first word of the line, lower case (<c>api</c>, <c>sendmsg</c>, …).</summary>
    public string Verb { get; }

    /// <summary>Everything after the first space of the line.</summary>
    public string Arguments { get; }

    public EslHeaders Headers { get; }

    public ReadOnlyMemory<byte> Body => _frame.AsMemory(_bodyOffset, _bodyLength);

    public string BodyText => Encoding.UTF8.GetString(_frame, _bodyOffset, _bodyLength);

    public ReadOnlyMemory<byte> Wire => _frame;

    public int WireLength => _frame.Length;

    public void WriteTo(IByteBuffer buffer) => buffer.WriteBytes(_frame);

    /// <summary>
    /// Builds a command. CR or LF in the line or a header refuses it (it would start a second
    /// command). A body gets a <c>Content-Length</c> header unless one is given.
    /// </summary>
    public static EslCommand Create(string line, IEnumerable<(string Name, string Value)>? headers = null, ReadOnlySpan<byte> body = default)
    {
        if (line.Length == 0 || line.AsSpan().IndexOfAny('\r', '\n') >= 0)
        {
            throw new ArgumentException("a command line must be non-empty and cannot contain CR or LF", nameof(line));
        }

        var builder = new FrameBuilder(line.Length + 64 + body.Length).Line(line);
        var hasLength = false;
        foreach (var (name, value) in headers ?? Array.Empty<(string, string)>())
        {
            if (string.Equals(name, HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase))
            {
                // A length other than the body's would end this command early and let the
                // rest of the body run as a second one.
                if (hasLength || value != body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))
                {
                    throw new ArgumentException($"Content-Length '{value}' does not match the {body.Length}-byte body", nameof(headers));
                }

                hasLength = true;
            }

            builder.Header(name, value);
        }

        if (!body.IsEmpty && !hasLength)
        {
            builder.Header(HeaderNames.ContentLength, body.Length);
        }

        var frame = builder.EndHeaders().Raw(body).ToArray();
        return EslCommandDecoder.ParseFrame(frame, frame.Length - body.Length);
    }

    public override string ToString() => Line;
}
