using DotNetty.Buffers;
using DotNetty.Codecs;
using DotNetty.Transport.Channels;
using Redswitch.Protocol.Headers;
using Redswitch.Protocol.Messages;

namespace Redswitch.Protocol.Framing;

/// <summary>
/// Splits what FreeSWITCH sends into frames: a header block up to the first empty line, then
/// exactly <c>Content-Length</c> bytes of body. Lengths are bytes. Any split of the input gives
/// the same messages. Each frame is copied once into its own array; nothing else is allocated
/// until a header is asked for.
/// </summary>
public sealed class EslFrameDecoder : ByteToMessageDecoder
{
    private enum State
    {
        ReadHeaders,
        ReadBody,
        Failed,
    }

    private readonly int _maxFrameBytes;
    private State _state = State.ReadHeaders;

    // Where the search for the end of the header block resumes, so a block that arrives in many
    // reads is scanned once.
    private int _scanned;
    private int _headerLength;
    private int _contentLength;

    public EslFrameDecoder()
        : this(EslDecoderOptions.Default)
    {
    }

    public EslFrameDecoder(EslDecoderOptions options)
    {
        _maxFrameBytes = options.MaxFrameBytes;
    }

    /// <summary>How far into the buffered bytes the search for the end of the block has got.</summary>
    internal int ScannedBytes => _scanned;

    protected override void Decode(IChannelHandlerContext context, IByteBuffer input, List<object> output)
    {
        while (input.IsReadable())
        {
            var frame = _state switch
            {
                State.ReadHeaders => ReadHeaders(input),
                State.ReadBody => ReadBody(input),
                _ => Discard(input),
            };
            if (frame is null)
            {
                return;
            }

            output.Add(frame);
        }
    }

    private EslMessage? ReadHeaders(IByteBuffer input)
    {
        var segment = input.GetIoBuffer(input.ReaderIndex, input.ReadableBytes);
        var span = segment.AsSpan();

        // A stray empty line between frames is not a frame.
        var skip = 0;
        while (skip < span.Length && span[skip] == (byte)'\n')
        {
            skip++;
        }

        if (skip > 0)
        {
            input.SkipBytes(skip);
            _scanned = 0;
            return input.IsReadable() ? ReadHeaders(input) : null;
        }

        // The block ends at "\n\n"; libesl also accepts "\n\r\n". Resume where the last read
        // stopped, less the two bytes a terminator may straddle.
        var from = Math.Max(0, _scanned - 2);
        var region = span[from..];
        var end = region.IndexOf("\n\n"u8);
        // A "\n\r\n" that starts before the first "\n\n" ends the block first; it can reach
        // one byte past that "\n\n"'s start ("\n\r\n\n").
        var crEnd = region[..(end < 0 ? region.Length : Math.Min(region.Length, end + 2))].IndexOf("\n\r\n"u8);
        int terminator;
        if (crEnd >= 0 && (end < 0 || crEnd < end))
        {
            end = crEnd;
            terminator = 2;
        }
        else
        {
            terminator = 1;
        }

        if (end < 0)
        {
            _scanned = span.Length;
            if (span.Length > _maxFrameBytes)
            {
                throw Fail(EslCodecError.HeaderBlockTooLarge, $"no end of header block within {_maxFrameBytes} bytes");
            }

            return null;
        }

        var blockLength = from + end + 1;
        _headerLength = blockLength + terminator;
        _scanned = 0;
        if (_headerLength > _maxFrameBytes)
        {
            throw Fail(EslCodecError.HeaderBlockTooLarge, $"header block of {_headerLength} bytes exceeds {_maxFrameBytes}");
        }

        var contentLength = ScanHeaderBlock(span[..blockLength]);
        if (contentLength > _maxFrameBytes - _headerLength)
        {
            throw Fail(EslCodecError.FrameTooLarge, $"Content-Length {contentLength} exceeds the {_maxFrameBytes}-byte frame limit");
        }

        _contentLength = (int)contentLength;
        _state = State.ReadBody;
        return ReadBody(input);
    }

    private EslMessage? ReadBody(IByteBuffer input)
    {
        var total = _headerLength + _contentLength;
        if (input.ReadableBytes < total)
        {
            return null;
        }

        var frame = new byte[total];
        input.ReadBytes(frame);
        _state = State.ReadHeaders;
        var headers = EslHeaders.Parse(frame, 0, _headerLength, urlDecode: true, strict: false, skipTabs: true, stopAtEmptyLine: true, out _);
        return EslMessage.Create(frame, headers, _headerLength, _contentLength);
    }

    private static EslMessage? Discard(IByteBuffer input)
    {
        input.SkipBytes(input.ReadableBytes);
        return null;
    }

    /// <summary>Checks every line has a ':' and returns the first Content-Length (0 if none).</summary>
    private long ScanHeaderBlock(ReadOnlySpan<byte> block)
    {
        long contentLength = -1;
        while (!block.IsEmpty)
        {
            var nl = block.IndexOf((byte)'\n');
            var line = nl < 0 ? block : block[..nl];
            var colon = line.IndexOf((byte)':');
            if (colon < 0)
            {
                throw Fail(EslCodecError.HeaderLineWithoutColon, $"header line without ':' ({EslHeaders.Preview(line)})");
            }

            if (contentLength < 0 && colon == HeaderNames.ContentLength.Length &&
                System.Text.Ascii.EqualsIgnoreCase(line[..colon], HeaderNames.ContentLength))
            {
                contentLength = ParseLength(line[(colon + 1)..]);
            }

            block = nl < 0 ? default : block[(nl + 1)..];
        }

        return Math.Max(0, contentLength);
    }

    private long ParseLength(ReadOnlySpan<byte> value)
    {
        value = value.Trim(" \t\r"u8);
        long result = 0;
        if (value.IsEmpty || value.Length > 18)
        {
            throw Fail(EslCodecError.BadContentLength, $"Content-Length '{EslHeaders.Preview(value)}' is not a byte count");
        }

        foreach (var b in value)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                throw Fail(EslCodecError.BadContentLength, $"Content-Length '{EslHeaders.Preview(value)}' is not a byte count");
            }

            result = (result * 10) + (b - '0');
        }

        return result;
    }

    private EslCodecException Fail(EslCodecError error, string message)
    {
        _state = State.Failed;
        return new EslCodecException(error, message);
    }

    /// <summary>The Content-Length of parsed headers (0 if absent); throws on a bad value.</summary>
    internal static long ParseContentLength(EslHeaders headers, int max)
    {
        var text = headers[HeaderNames.ContentLength];
        if (text is null)
        {
            return 0;
        }

        if (!long.TryParse(text.Trim(), System.Globalization.NumberStyles.None, null, out var length))
        {
            throw new EslCodecException(EslCodecError.BadContentLength, $"Content-Length '{text}' is not a byte count");
        }

        return length <= max ? length : throw new EslCodecException(EslCodecError.FrameTooLarge, $"Content-Length {length} exceeds {max}");
    }
}
