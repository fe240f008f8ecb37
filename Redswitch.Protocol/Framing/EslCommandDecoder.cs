using System.Text;
using Redswitch.Protocol.Headers;
using Redswitch.Protocol.Messages;

namespace Redswitch.Protocol.Framing;

/// <summary>
/// Reads commands as FreeSWITCH does (mod_event_socket read_packet): CR and LF before a command
/// are skipped, CRs are ignored, the first line is the command, an empty line ends the block,
/// and a <c>Content-Length</c> header is followed by exactly that many body bytes.
/// </summary>
public sealed class EslCommandDecoder : EslBlockDecoder
{
    // Where the unfinished line began, and how far the search for its LF got, so bytes
    // trickling in are looked at once.
    private int _lineStart;
    private int _scanned;

    public EslCommandDecoder()
        : this(EslDecoderOptions.Default)
    {
    }

    public EslCommandDecoder(EslDecoderOptions options)
        : base(options)
    {
    }

    /// <summary>How far into the buffered bytes the search for the end of the block has got.</summary>
    internal int ScannedBytes => _scanned;

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

    private protected override int SkipBeforeBlock(ReadOnlySpan<byte> buffered)
    {
        if (_lineStart > 0)
        {
            return 0;
        }

        var skip = buffered.IndexOfAnyExcept((byte)'\r', (byte)'\n');
        return skip < 0 ? buffered.Length : skip;
    }

    private protected override int FindBlockEnd(ReadOnlySpan<byte> buffered)
    {
        var pos = _lineStart;
        var searchFrom = Math.Max(_scanned, pos);
        while (true)
        {
            var nl = buffered[searchFrom..].IndexOf((byte)'\n');
            if (nl < 0)
            {
                _lineStart = pos;
                _scanned = buffered.Length;
                return -1;
            }

            var lineEnd = searchFrom + nl;
            var line = buffered[pos..lineEnd];
            var isCommandLine = pos == 0;
            pos = searchFrom = lineEnd + 1;
            if (!isCommandLine && line.IndexOfAnyExcept((byte)'\r') < 0)
            {
                ResetScan();
                return pos;
            }
        }
    }

    /// <summary>The first Content-Length header after the command line (0 if none).</summary>
    private protected override long ReadContentLength(ReadOnlySpan<byte> block)
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
                return ParseLength(line[(colon + 1)..]);
            }

            block = nl < 0 ? default : block[(nl + 1)..];
        }

        return 0;
    }

    private protected override object CreateMessage(byte[] frame, int headerLength) => ParseFrame(frame, headerLength);

    private protected override void ResetScan()
    {
        _lineStart = 0;
        _scanned = 0;
    }
}
