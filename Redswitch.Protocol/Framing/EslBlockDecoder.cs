using System.Buffers;
using DotNetty.Buffers;
using DotNetty.Codecs;
using DotNetty.Transport.Channels;

namespace Redswitch.Protocol.Framing;

/// <summary>
/// What both directions of ESL share: a header block that ends at an empty line, then exactly
/// <c>Content-Length</c> bytes of body. Subclasses say where a block starts and ends, where its
/// Content-Length is, and what message the frame becomes.
/// Every read is consumed whole, so DotNetty never merges reads into a cumulation buffer: each
/// frame is copied once, straight from the reads into its own array, and only a header block
/// cut by the end of a read is kept aside (with the rest of that read) until it ends. After a
/// framing error every further byte is discarded until the channel closes.
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

    // A frame up to this size gets its whole array at once; a larger one grows as its bytes
    // arrive, so a peer announcing 16 MiB and sending little reserves little.
    private const int ReserveUpFront = 256 * 1024;

    // ReadBody: the frame being filled, its size, and how many of its bytes have arrived.
    private byte[] _frame = Array.Empty<byte>();
    private int _total;
    private int _filled;
    private int _headerLength;

    // ReadHeaders: the start of a header block that a read cut short (rented).
    private byte[]? _pending;
    private int _pendingLength;

    private protected EslBlockDecoder(EslDecoderOptions options)
    {
        MaxFrameBytes = options.MaxFrameBytes;
    }

    protected int MaxFrameBytes { get; }

    protected override void Decode(IChannelHandlerContext context, IByteBuffer input, List<object> output)
    {
        if (_pending is not null && _state == State.ReadHeaders)
        {
            // Join the cut header block with this read and decode from the joined bytes.
            var readable = input.ReadableBytes;
            var joined = _pending;
            if (_pendingLength + readable > joined.Length)
            {
                joined = ArrayPool<byte>.Shared.Rent(_pendingLength + readable);
                _pending.AsSpan(0, _pendingLength).CopyTo(joined);
                ArrayPool<byte>.Shared.Return(_pending);
            }

            input.ReadBytes(joined, _pendingLength, readable);
            var length = _pendingLength + readable;
            _pending = null;
            _pendingLength = 0;
            try
            {
                DecodeFrom(Unpooled.WrappedBuffer(joined, 0, length), output);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(joined);
            }

            return;
        }

        DecodeFrom(input, output);
    }

    protected override void HandlerRemovedInternal(IChannelHandlerContext context)
    {
        if (_pending is not null)
        {
            ArrayPool<byte>.Shared.Return(_pending);
            _pending = null;
        }

        base.HandlerRemovedInternal(context);
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
    private protected long ParseLength(ReadOnlySpan<byte> value) =>
        TryParseByteCount(value, out var length)
            ? length
            : throw Fail(EslCodecError.BadContentLength, $"Content-Length '{Headers.EslHeaders.Preview(value.Trim(" \t\r"u8))}' is not a byte count");

    /// <summary>Decimal digits only (surrounding blanks and CR allowed), at most 18 of them.</summary>
    internal static bool TryParseByteCount(ReadOnlySpan<byte> value, out long length)
    {
        length = 0;
        value = value.Trim(" \t\r"u8);
        if (value.IsEmpty || value.Length > 18 || value.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0)
        {
            return false;
        }

        foreach (var b in value)
        {
            length = (length * 10) + (b - '0');
        }

        return true;
    }

    private void DecodeFrom(IByteBuffer input, List<object> output)
    {
        while (input.IsReadable())
        {
            var message = _state switch
            {
                State.ReadHeaders => ReadHeaders(input),
                State.ReadBody => ReadBody(input),
                _ => Discard(input),
            };
            if (message is not null)
            {
                output.Add(message);
            }
        }
    }

    private object? ReadHeaders(IByteBuffer input)
    {
        var span = input.GetIoBuffer(input.ReaderIndex, input.ReadableBytes).AsSpan();
        var skip = SkipBeforeBlock(span);
        if (skip > 0)
        {
            input.SkipBytes(skip);
            ResetScan();
            return null;
        }

        var headerLength = FindBlockEnd(span);
        if (headerLength < 0)
        {
            if (span.Length > MaxFrameBytes)
            {
                throw Fail(EslCodecError.HeaderBlockTooLarge, $"no end of header block within {MaxFrameBytes} bytes");
            }

            // Keep the cut block (and nothing else: it is the rest of the read) for the next read.
            _pending = ArrayPool<byte>.Shared.Rent(Math.Max(span.Length * 2, 4096));
            span.CopyTo(_pending);
            _pendingLength = span.Length;
            input.SkipBytes(span.Length);
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
        _total = headerLength + (int)contentLength;
        _frame = GC.AllocateUninitializedArray<byte>(_total <= ReserveUpFront ? _total : Math.Max(ReserveUpFront, Math.Min(_total, span.Length)));
        _filled = 0;
        _state = State.ReadBody;
        return ReadBody(input);
    }

    private object? ReadBody(IByteBuffer input)
    {
        var count = Math.Min(input.ReadableBytes, _total - _filled);
        if (_filled + count > _frame.Length)
        {
            var grown = GC.AllocateUninitializedArray<byte>(Math.Min(_total, Math.Max(_filled + count, _frame.Length * 2)));
            _frame.AsSpan(0, _filled).CopyTo(grown);
            _frame = grown;
        }

        input.ReadBytes(_frame, _filled, count);
        _filled += count;
        if (_filled < _total)
        {
            return null;
        }

        var frame = _frame;
        _frame = Array.Empty<byte>();
        _state = State.ReadHeaders;
        return CreateMessage(frame, _headerLength);
    }

    private static object? Discard(IByteBuffer input)
    {
        input.SkipBytes(input.ReadableBytes);
        return null;
    }
}
