using DotNetty.Transport.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Redswitch.Protocol.Framing;

/// <summary>
/// Turns a framing error into one log line naming the peer and the close of that connection
/// only. Other exceptions pass on unchanged.
/// </summary>
public sealed class EslCodecErrorHandler : ChannelHandlerAdapter
{
    private readonly ILogger _logger;
    private readonly Action<EslCodecException>? _onError;
    private bool _reported;

    public EslCodecErrorHandler(ILogger? logger = null, Action<EslCodecException>? onError = null)
    {
        _logger = logger ?? NullLogger.Instance;
        _onError = onError;
    }

    public override void ExceptionCaught(IChannelHandlerContext context, Exception exception)
    {
        if (Find(exception) is not { } codec)
        {
            context.FireExceptionCaught(exception);
            return;
        }

        if (!_reported)
        {
            _reported = true;
            _logger.LogWarning("ESL framing error from {Peer}: {Error} ({Detail}); closing the connection", context.Channel.RemoteAddress, codec.Error, codec.Message);
            _onError?.Invoke(codec);
        }

        context.CloseAsync();
    }

    private static EslCodecException? Find(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is EslCodecException codec)
            {
                return codec;
            }
        }

        return null;
    }
}
