namespace Redswitch.Protocol;

/// <summary>How FreeSWITCH serialises events on a connection (<c>event plain|json|xml</c>).</summary>
public enum EslEventFormat
{
    Plain,
    Json,
    Xml,
}
