using Redswitch.Server;

// No arguments = serve; anything else is an operator's verb (SPEC §10, §11).
if (args.Length == 0) return await Serve.RunAsync();
Console.Error.WriteLine($"redswitch: unknown command '{args[0]}' (no arguments = serve)");
return 2;
