using System.Text;
using Redswitch.Protocol.Headers;

namespace Redswitch.Protocol.Messages;

/// <summary>The reply to <c>api</c>: the command's output as the body, which may lack a trailing LF.</summary>
public sealed class ApiResponse : EslMessage
{
    internal ApiResponse(byte[] frame, EslHeaders headers, int bodyOffset, int bodyLength)
        : base(frame, headers, bodyOffset, bodyLength)
    {
    }

    public bool IsOk => BodyText.StartsWith("+OK", StringComparison.Ordinal);

    public bool IsError => BodyText.StartsWith("-ERR", StringComparison.Ordinal) || BodyText.StartsWith("-USAGE", StringComparison.Ordinal);

    public static ApiResponse Create(string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        return (ApiResponse)Create(
            new[] { (HeaderNames.ContentType, ContentTypes.ApiResponse), (HeaderNames.ContentLength, bytes.Length.ToString()) },
            bytes);
    }
}
