using DotNetty.Buffers;
using DotNetty.Codecs;
using DotNetty.Transport.Channels;

namespace Redswitch.Protocol.Framing;

/// <summary>
/// What both directions of ESL share: a header block that ends at an empty line, then exactly
/// <c>Content-Length</c> bytes of body. Subclasses say where a block starts and ends, where its
/// Content-Length is, and what message the frame becomes. Each frame is copied once into its
/// own array. After a framing error every further byte is discarded until the channel closes.
/// </summary>
public abstract class EslBlockDecoder : ByteToMessageDecoder
{
    private enum State
    {
        ReadHeaders,
        ReadBody,
        Failed,
    }

    private State _state = State.ReadHeaders;
    private int _headerLength;
    private int _contentLength;

    private protected EslBlockDecoder(EslDecoderOptions options)
    {
        MaxFrameBytes = options.MaxFrameBytes;
    }

    protected int MaxFrameBytes { get; }

    protected override void Decode(IChannelHandlerContext context, IByteBuffer input, List<object> output)
    {
        while (input.IsReadable())
        {
            var message = _state switch
            {
                State.ReadHeaders => ReadHeaders(input),
                State.ReadBody => ReadBody(input),
                _ => Discard(input),
            };
            if (message is null)
            {
                return;
            }

            output.Add(message);
        }
    }

    /// <summary>How many leading bytes are not part of a block (blank lines between frames).</summary>
    private protected abstract int SkipBeforeBlock(ReadOnlySpan<byte> buffered);

    /// <summary>
    /// The length of the header block, its empty line included, or -1 while it has not ended.
    /// Called again with more bytes each time; implementations remember how far they got.
    /// </summary>
    private protected abstract int FindBlockEnd(ReadOnlySpan<byte> buffered);

    /// <summary>Validates the block's lines and returns its Content-Length (0 if none).</summary>
    private protected abstract long ReadContentLength(ReadOnlySpan<byte> block);

    /// <summary>The message of a whole frame whose header block is the first <paramref name="headerLength"/> bytes.</summary>
    private protected abstract object CreateMessage(byte[] frame, int headerLength);

    /// <summary>Forget any partial scan (the bytes it covered were skipped).</summary>
    private protected abstract void ResetScan();

    private protected EslCodecException Fail(EslCodecError error, string message)
    {
        _state = State.Failed;
        return new EslCodecException(error, message);
    }

    /// <summary>A decimal byte count; anything else (sign, space inside, empty, 19+ digits) is a framing error.</summary>
    private protected long ParseLength(ReadOnlySpan<byte> value)
    {
        value = value.Trim(" \t\r"u8);
        if (value.IsEmpty || value.Length > 18 || value.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0)
        {
            throw Fail(EslCodecError.BadContentLength, $"Content-Length '{Headers.EslHeaders.Preview(value)}' is not a byte count");
        }

        long result = 0;
        foreach (var b in value)
        {
            result = (result * 10) + (b - '0');
        }

        return result;
    }

    private object? ReadHeaders(IByteBuffer input)
    {
        var span = input.GetIoBuffer(input.ReaderIndex, input.ReadableBytes).AsSpan();
        var skip = SkipBeforeBlock(span);
        if (skip > 0)
        {
            input.SkipBytes(skip);
            ResetScan();
            return input.IsReadable() ? ReadHeaders(input) : null;
        }

        var headerLength = FindBlockEnd(span);
        if (headerLength < 0)
        {
            if (span.Length > MaxFrameBytes)
            {
                throw Fail(EslCodecError.HeaderBlockTooLarge, $"no end of header block within {MaxFrameBytes} bytes");
            }

            return null;
        }

        if (headerLength > MaxFrameBytes)
        {
            throw Fail(EslCodecError.HeaderBlockTooLarge, $"header block of {headerLength} bytes exceeds {MaxFrameBytes}");
        }

        var contentLength = ReadContentLength(span[..headerLength]);
        if (contentLength > MaxFrameBytes - headerLength)
        {
            throw Fail(EslCodecError.FrameTooLarge, $"Content-Length {contentLength} exceeds the {MaxFrameBytes}-byte frame limit");
        }

        _headerLength = headerLength;
        _contentLength = (int)contentLength;
        _state = State.ReadBody;
        return ReadBody(input);
    }

    private object? ReadBody(IByteBuffer input)
    {
        var total = _headerLength + _contentLength;
        if (input.ReadableBytes < total)
        {
            return null;
        }

        var frame = GC.AllocateUninitializedArray<byte>(total);
        input.ReadBytes(frame);
        _state = State.ReadHeaders;
        return CreateMessage(frame, _headerLength);
    }

    private static object? Discard(IByteBuffer input)
    {
        input.SkipBytes(input.ReadableBytes);
        return null;
    }
}
