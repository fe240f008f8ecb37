using Redswitch.Protocol.Headers;
using Redswitch.Protocol.Messages;

namespace Redswitch.Protocol.Framing;

/// <summary>
/// Splits what FreeSWITCH sends into frames (<see cref="EslMessage"/>): a header block up to the
/// first empty line, then exactly <c>Content-Length</c> bytes of body. Lengths are bytes. Any
/// split of the input gives the same messages. Nothing but the frame's array is allocated until
/// a header is asked for.
/// </summary>
public sealed class EslFrameDecoder : EslBlockDecoder
{
    // Where the search for the end of the header block resumes, so a block that arrives in many
    // reads is scanned once.
    private int _scanned;

    public EslFrameDecoder()
        : this(EslDecoderOptions.Default)
    {
    }

    public EslFrameDecoder(EslDecoderOptions options)
        : base(options)
    {
    }

    /// <summary>How far into the buffered bytes the search for the end of the block has got.</summary>
    internal int ScannedBytes => _scanned;

    /// <summary>
    /// The length of the header lines (through the last line's LF) of the block that starts
    /// <paramref name="bytes"/>, or -1 if it has not ended. The block ends at "\n\n"; libesl
    /// also accepts "\n\r\n", whichever starts first. <paramref name="terminator"/> is the
    /// length of the empty line (1 or 2).
    /// </summary>
    internal static int FindHeaderBlockEnd(ReadOnlySpan<byte> bytes, out int terminator)
    {
        var end = bytes.IndexOf("\n\n"u8);

        // A "\n\r\n" that starts before that "\n\n" can reach one byte past its start ("\n\r\n\n").
        var crEnd = bytes[..(end < 0 ? bytes.Length : Math.Min(bytes.Length, end + 2))].IndexOf("\n\r\n"u8);
        if (crEnd >= 0 && (end < 0 || crEnd < end))
        {
            terminator = 2;
            return crEnd + 1;
        }

        terminator = 1;
        return end < 0 ? -1 : end + 1;
    }

    /// <summary>The Content-Length of parsed headers (0 if absent); throws on a bad value.</summary>
    internal static long ParseContentLength(EslHeaders headers, int max)
    {
        var text = headers[HeaderNames.ContentLength];
        if (text is null)
        {
            return 0;
        }

        if (!TryParseByteCount(System.Text.Encoding.UTF8.GetBytes(text), out var length))
        {
            throw new EslCodecException(EslCodecError.BadContentLength, $"Content-Length '{text}' is not a byte count");
        }

        return length <= max ? length : throw new EslCodecException(EslCodecError.FrameTooLarge, $"Content-Length {length} exceeds {max}");
    }

    // A stray empty line between frames is not a frame.
    private protected override int SkipBeforeBlock(ReadOnlySpan<byte> buffered)
    {
        var skip = buffered.IndexOfAnyExcept((byte)'\n');
        return skip < 0 ? buffered.Length : skip;
    }

    private protected override int FindBlockEnd(ReadOnlySpan<byte> buffered)
    {
        // Resume where the last read stopped, less the two bytes a terminator may straddle.
        var from = Math.Max(0, _scanned - 2);
        var found = FindHeaderBlockEnd(buffered[from..], out var terminator);
        if (found < 0)
        {
            _scanned = buffered.Length;
            return -1;
        }

        _scanned = 0;
        return from + found + terminator;
    }

    /// <summary>Checks every line has a ':' and returns the first Content-Length (0 if none).</summary>
    private protected override long ReadContentLength(ReadOnlySpan<byte> block)
    {
        long contentLength = -1;
        while (!block.IsEmpty)
        {
            var nl = block.IndexOf((byte)'\n');
            var line = (nl < 0 ? block : block[..nl]).TrimEnd((byte)'\r');
            block = nl < 0 ? default : block[(nl + 1)..];
            if (line.IsEmpty)
            {
                break;
            }

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
        }

        return Math.Max(0, contentLength);
    }

    private protected override object CreateMessage(byte[] frame, int headerLength)
    {
        var headers = EslHeaders.Parse(frame, 0, headerLength, urlDecode: true, strict: false, skipTabs: true, stopAtEmptyLine: true, out _);
        return EslMessage.Create(frame, headers, headerLength, frame.Length - headerLength);
    }

    private protected override void ResetScan() => _scanned = 0;
}
