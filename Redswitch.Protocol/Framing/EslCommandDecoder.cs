using System.Text;
using DotNetty.Buffers;
using DotNetty.Codecs;
using DotNetty.Transport.Channels;
using Redswitch.Protocol.Headers;
using Redswitch.Protocol.Messages;

namespace Redswitch.Protocol.Framing;

/// <summary>
/// Reads commands as FreeSWITCH does (mod_event_socket read_packet): CR and LF before a command
/// are skipped, CRs are ignored, the first line is the command, an empty line ends the block,
/// and a <c>Content-Length</c> header is followed by exactly that many body bytes.
/// </summary>
public sealed class EslCommandDecoder : ByteToMessageDecoder
{
    private enum State
    {
        ReadHeaders,
        ReadBody,
        Failed,
    }

    private readonly int _maxFrameBytes;
    private State _state = State.ReadHeaders;
    private int _lineStart;
    private int _scanned;
    private int _headerLength;
    private int _contentLength;

    public EslCommandDecoder()
        : this(EslDecoderOptions.Default)
    {
    }

    public EslCommandDecoder(EslDecoderOptions options)
    {
        _maxFrameBytes = options.MaxFrameBytes;
    }

    /// <summary>How far into the buffered bytes the search for the end of the block has got.</summary>
    internal int ScannedBytes => _scanned;

    protected override void Decode(IChannelHandlerContext context, IByteBuffer input, List<object> output)
    {
        while (input.IsReadable())
        {
            var command = _state switch
            {
                State.ReadHeaders => ReadHeaders(input),
                State.ReadBody => ReadBody(input),
                _ => Discard(input),
            };
            if (command is null)
            {
                return;
            }

            output.Add(command);
        }
    }

    private EslCommand? ReadHeaders(IByteBuffer input)
    {
        var span = input.GetIoBuffer(input.ReaderIndex, input.ReadableBytes).AsSpan();
        var skip = span.IndexOfAnyExcept((byte)'\r', (byte)'\n');
        if (skip != 0)
        {
            input.SkipBytes(skip < 0 ? span.Length : skip);
            _scanned = 0;
            _lineStart = 0;
            return skip > 0 ? ReadHeaders(input) : null;
        }

        // Scan line by line. _lineStart is where the unfinished line began, _scanned how far the
        // search for its LF got, so bytes trickling in are looked at once.
        var pos = _lineStart;
        var searchFrom = Math.Max(_scanned, pos);
        while (true)
        {
            var nl = span[searchFrom..].IndexOf((byte)'\n');
            if (nl < 0)
            {
                _lineStart = pos;
                _scanned = span.Length;
                if (span.Length > _maxFrameBytes)
                {
                    throw Fail(EslCodecError.HeaderBlockTooLarge, $"no end of command within {_maxFrameBytes} bytes");
                }

                return null;
            }

            var lineEnd = searchFrom + nl;
            var line = span[pos..lineEnd];
            var isCommandLine = pos == 0;
            pos = searchFrom = lineEnd + 1;
            if (!isCommandLine && line.IndexOfAnyExcept((byte)'\r') < 0)
            {
                break;
            }
        }

        _lineStart = 0;
        _headerLength = pos;
        _scanned = 0;
        if (_headerLength > _maxFrameBytes)
        {
            throw Fail(EslCodecError.HeaderBlockTooLarge, $"command block of {_headerLength} bytes exceeds {_maxFrameBytes}");
        }

        var contentLength = FindContentLength(span[.._headerLength]);
        if (contentLength > _maxFrameBytes - _headerLength)
        {
            throw Fail(EslCodecError.FrameTooLarge, $"Content-Length {contentLength} exceeds the {_maxFrameBytes}-byte frame limit");
        }

        _contentLength = (int)contentLength;
        _state = State.ReadBody;
        return ReadBody(input);
    }

    private EslCommand? ReadBody(IByteBuffer input)
    {
        var total = _headerLength + _contentLength;
        if (input.ReadableBytes < total)
        {
            return null;
        }

        var frame = new byte[total];
        input.ReadBytes(frame);
        _state = State.ReadHeaders;
        return ParseFrame(frame, _headerLength);
    }

    private static EslCommand? Discard(IByteBuffer input)
    {
        input.SkipBytes(input.ReadableBytes);
        return null;
    }

    /// <summary>A command frame whose header block (with its empty line) is the first <paramref name="headerLength"/> bytes.</summary>
    internal static EslCommand ParseFrame(byte[] frame, int headerLength)
    {
        var span = frame.AsSpan(0, headerLength);
        var nl = span.IndexOf((byte)'\n');
        var first = span[..nl].TrimEnd((byte)'\r');
        var line = Encoding.UTF8.GetString(first);
        var headerStart = nl + 1;

        // The block ends with an empty line (LF, possibly after CRs): drop it.
        var blockEnd = headerLength - 1;
        while (blockEnd > headerStart && frame[blockEnd - 1] == (byte)'\r')
        {
            blockEnd--;
        }

        var headers = EslHeaders.Parse(frame, headerStart, Math.Max(0, blockEnd - headerStart), urlDecode: false, strict: false, skipTabs: false);
        return new EslCommand(frame, line, headers, headerLength, frame.Length - headerLength);
    }

    private long FindContentLength(ReadOnlySpan<byte> block)
    {
        var nl = block.IndexOf((byte)'\n');
        block = block[(nl + 1)..];
        while (!block.IsEmpty)
        {
            nl = block.IndexOf((byte)'\n');
            var line = (nl < 0 ? block : block[..nl]).TrimEnd((byte)'\r');
            var colon = line.IndexOf((byte)':');
            if (colon == HeaderNames.ContentLength.Length && Ascii.EqualsIgnoreCase(line[..colon], HeaderNames.ContentLength))
            {
                var value = line[(colon + 1)..].Trim(" \t"u8);
                if (value.IsEmpty || value.Length > 18 || value.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0)
                {
                    throw Fail(EslCodecError.BadContentLength, $"Content-Length '{EslHeaders.Preview(value)}' is not a byte count");
                }

                long result = 0;
                foreach (var b in value)
                {
                    result = (result * 10) + (b - '0');
                }

                return result;
            }

            block = nl < 0 ? default : block[(nl + 1)..];
        }

        return 0;
    }

    private EslCodecException Fail(EslCodecError error, string message)
    {
        _state = State.Failed;
        return new EslCodecException(error, message);
    }
}
