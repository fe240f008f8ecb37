using DotNetty.Buffers;
using DotNetty.Codecs;
using DotNetty.Transport.Channels;
using Redswitch.Protocol.Messages;

namespace Redswitch.Protocol.Framing;

/// <summary>Writes commands to FreeSWITCH (the controller's side).</summary>
public sealed class EslCommandEncoder : MessageToByteEncoder<EslCommand>
{
    protected override void Encode(IChannelHandlerContext context, EslCommand message, IByteBuffer output) =>
        message.WriteTo(output);
}
