%% A port-program peer for the term text interop tests (test/term/text-erl.test.ts).
%%
%% The Node side starts `erl -noinput`, which compiles this file in memory and calls main/0.
%% Requests and replies are external term format in 4-byte length-prefixed frames on fd 0/1.
%% Every request is a batch and gets one reply, a list with one result per item; an item the
%% BEAM cannot handle gives an {error, Text} result, never a crash.
-module(text_peer).
-export([main/0]).

main() ->
    Port = open_port({fd, 0, 1}, [binary, {packet, 4}, eof]),
    loop(Port).

loop(Port) ->
    receive
        {Port, {data, Request}} ->
            Reply = try
                handle(binary_to_term(Request))
            catch
                Class:Reason -> {crash, Class, text("~tP", [Reason, 10])}
            end,
            true = port_command(Port, term_to_binary(Reply, [{minor_version, 2}])),
            loop(Port);
        {Port, eof} ->
            halt(0)
    end.

%% {print, [TermBin]} -> [{P, TP}]: the term as ~0p and ~0tp print it, as UTF-8.
handle({print, Bins}) ->
    [safe(fun() ->
                  T = binary_to_term(B),
                  {text("~0p", [T]), text("~0tp", [T])}
          end) || B <- Bins];
%% {print_depth, [{TermBin, Depth}]} -> [{P, TP}]: as ~0P and ~0tP print it.
handle({print_depth, Items}) ->
    [safe(fun() ->
                  T = binary_to_term(B),
                  {text("~0P", [T, D]), text("~0tP", [T, D])}
          end) || {B, D} <- Items];
%% {parse, [{Text, TermBin}]} -> [true | false | {error, Why}]: whether erl_scan + erl_parse
%% read Text (UTF-8) as a term =:= the term in TermBin.
handle({parse, Items}) ->
    [safe(fun() -> parse(Text, B) end) || {Text, B} <- Items].

parse(Text, B) ->
    case erl_scan:string(unicode:characters_to_list(Text)) of
        {ok, Tokens, _} ->
            case erl_parse:parse_term(Tokens ++ [{dot, erl_anno:new(1)}]) of
                {ok, T} -> T =:= binary_to_term(B);
                {error, Why} -> {error, text("~tp", [Why])}
            end;
        Error ->
            {error, text("~tp", [Error])}
    end.

safe(F) ->
    try F()
    catch Class:Reason -> {error, text("~tp:~tp", [Class, Reason])}
    end.

text(Format, Args) ->
    unicode:characters_to_binary(io_lib:format(Format, Args)).
