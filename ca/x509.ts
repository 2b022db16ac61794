// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the
// Reflect metadata API loaded first. Every module of ca/ imports x509 from here.
import 'reflect-metadata';

export * from '@peculiar/x509';
