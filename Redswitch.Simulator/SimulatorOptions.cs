using System.Net;

namespace Redswitch.Simulator;

/// <summary>Settings of a simulator instance (the command line maps onto these; see <c>--help</c>).</summary>
public sealed class SimulatorOptions
{
    /// <summary>Address of the inbound ESL listener. Default 127.0.0.1.</summary>
    public IPAddress ListenAddress { get; set; } = IPAddress.Loopback;

    /// <summary>Port of the inbound ESL listener; 0 picks a free port (see <see cref="SimulatorHost.Port"/>). Default 8021.</summary>
    public int Port { get; set; } = 8021;

    /// <summary>Password expected by <c>auth</c>. Default ClueCon.</summary>
    public string Password { get; set; } = "ClueCon";

    /// <summary>How long an ordinary phone rings before it answers (SPEC §9: 200 ms).</summary>
    public TimeSpan AnswerDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How long a <c>…408</c> phone rings before it gives up with NO_ANSWER (1 s).</summary>
    public TimeSpan RingTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a <c>…480</c> phone stays up after answering (1 s).</summary>
    public TimeSpan HangupDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>When not null, only these <c>sofia/gateway/NAME/…</c> names dial; others fail with NO_ROUTE_DESTINATION.</summary>
    public IReadOnlySet<string>? Gateways { get; set; }

    /// <summary>Values of the standard event headers.</summary>
    public string Hostname { get; set; } = "redswitch-sim";

    /// <summary>Interval of HEARTBEAT events; null disables them. Default 20 s (FreeSWITCH's default).</summary>
    public TimeSpan? HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Time an outbound connection attempt may take before the next host is tried.</summary>
    public TimeSpan OutboundConnectTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a new connection may stay silent before its first command (FreeSWITCH: 25 s); then the
    /// disconnect notice is sent and the connection closed.</summary>
    public TimeSpan FirstCommandTimeout { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>Where the one-line-per-call log goes; null = nowhere. The command line writes to stdout.</summary>
    public Action<string>? Log { get; set; }
}
