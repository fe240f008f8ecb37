namespace Redswitch.Calls;

/// <summary>The settings one call's decisions depend on (SPEC §2), and where its socket must connect to.</summary>
public sealed record CallSettings(
    TimeSpan RingTimeout,
    TimeSpan SocketConnectTimeout,
    TimeSpan SocketLinger,
    TimeSpan EndedLinger,
    string Advertise,
    bool LogPhoneNumbers)
{
    /// <summary>FreeSWITCH said a leg is gone; its CHANNEL_HANGUP_COMPLETE may still be on its way with the real cause.</summary>
    public TimeSpan GoneGrace { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>The socket normally follows the caller's answer within milliseconds; after this, it is late.</summary>
    public TimeSpan SocketLateAfter => TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(1).Ticks, SocketConnectTimeout.Ticks / 2));
}
