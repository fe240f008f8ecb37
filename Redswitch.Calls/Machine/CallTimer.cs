namespace Redswitch.Calls;

/// <summary>What a timer is for; <see cref="CallTimer.Leg"/> names the leg for per-leg timers (-1 for the call's own).</summary>
public readonly record struct CallTimer(TimerKind Kind, int Leg = -1)
{
    public override string ToString() => Leg < 0 ? Kind.ToString() : $"{Kind}({Leg})";
}

public enum TimerKind
{
    /// <summary>The caller's socket did not come within 1 s of its answer: follow the leg on the control link.</summary>
    SocketLate,
    /// <summary>…nor within SOCKET_CONNECT_TIMEOUT: hang the caller up, nobody controls it.</summary>
    SocketNeverCame,
    /// <summary>An originate whose reply was lost: past ringing and connect time, give the leg up.</summary>
    GiveUpLeg,
    /// <summary>FreeSWITCH said the leg is gone; wait for its CHANNEL_HANGUP_COMPLETE to bring the real cause.</summary>
    GoneGrace,
    /// <summary>uuid_exists said an unconfirmed leg is not there; wait for a last event before calling it never placed.</summary>
    UnconfirmedGrace,
    /// <summary>Every side ended but not every channel: send <c>exit</c> on the socket at the latest now.</summary>
    SocketLinger,
    /// <summary>The ended call's channel stays subscribed this long (late control messages get their failure).</summary>
    Release,
}
