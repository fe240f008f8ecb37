namespace Redswitch.Protocol.Headers;

/// <summary>Header names the codec itself reads.</summary>
public static class HeaderNames
{
    public const string ContentType = "Content-Type";
    public const string ContentLength = "Content-Length";
    public const string ContentDisposition = "Content-Disposition";
    public const string ReplyText = "Reply-Text";
    public const string JobUuid = "Job-UUID";
    public const string EventName = "Event-Name";
    public const string UniqueId = "Unique-ID";
    public const string SocketMode = "Socket-Mode";
    public const string Control = "Control";
    public const string ControlledSessionUuid = "Controlled-Session-UUID";
    public const string ChannelName = "Channel-Name";
    public const string LingerTime = "Linger-Time";
    public const string LogLevel = "Log-Level";
}

/// <summary>The content types FreeSWITCH sends (lower case, as compared).</summary>
public static class ContentTypes
{
    public const string AuthRequest = "auth/request";
    public const string CommandReply = "command/reply";
    public const string ApiResponse = "api/response";
    public const string EventPlain = "text/event-plain";
    public const string EventJson = "text/event-json";
    public const string EventXml = "text/event-xml";
    public const string DisconnectNotice = "text/disconnect-notice";
    public const string RudeRejection = "text/rude-rejection";
    public const string LogData = "log/data";
}
