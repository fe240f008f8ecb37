using DotNetty.Buffers;
using DotNetty.Codecs;
using DotNetty.Transport.Channels;
using Redswitch.Protocol.Messages;

namespace Redswitch.Protocol.Framing;

/// <summary>Writes frames the way FreeSWITCH sends them (the simulator's side).</summary>
public sealed class EslMessageEncoder : MessageToByteEncoder<EslMessage>
{
    protected override void Encode(IChannelHandlerContext context, EslMessage message, IByteBuffer output) =>
        message.WriteTo(output);
}
